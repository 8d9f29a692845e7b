// CuratorCheck: drives a server with Apache Curator's framework and recipes and
// prints one line per step, so tests/integration/test_curator.py can compare
// zkd's transcript with Apache ZooKeeper's.  Usage: CuratorCheck host:port
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;

public class CuratorCheck {
    static void out(String step, Object v) { System.out.println(step + " => " + v); }

    public static void main(String[] args) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(args[0], 15000, 10000,
                new ExponentialBackoffRetry(100, 3));
        c.start();
        out("connected", c.blockUntilConnected(20, TimeUnit.SECONDS));
        out("create parents", c.create().creatingParentsIfNeeded().forPath("/cur/a/b", "v".getBytes()));
        out("get", new String(c.getData().forPath("/cur/a/b")));
        Stat st = c.setData().withVersion(0).forPath("/cur/a/b", "w".getBytes());
        out("set version", st.getVersion());
        out("seq", c.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath("/cur/a/s-").replaceAll("\\d+$", "N"));
        out("container", c.create().withMode(CreateMode.CONTAINER).forPath("/cur/box"));
        out("txn", c.transaction().forOperations(
                c.transactionOp().create().forPath("/cur/t1"),
                c.transactionOp().setData().forPath("/cur/a/b", "x".getBytes())).size());

        CountDownLatch changed = new CountDownLatch(1);
        c.getData().usingWatcher((org.apache.zookeeper.Watcher) e -> {
            out("watch", e.getType() + " " + e.getPath());
            changed.countDown();
        }).forPath("/cur/a/b");
        c.setData().forPath("/cur/a/b", "y".getBytes());
        out("watch fired", changed.await(20, TimeUnit.SECONDS));

        InterProcessMutex lock = new InterProcessMutex(c, "/cur/lock");
        out("lock", lock.acquire(20, TimeUnit.SECONDS));
        InterProcessMutex other = new InterProcessMutex(c, "/cur/lock");
        out("second lock while held", other.acquire(200, TimeUnit.MILLISECONDS));
        lock.release();
        out("second lock after release", other.acquire(20, TimeUnit.SECONDS));
        other.release();

        LeaderLatch latch = new LeaderLatch(c, "/cur/leader", "me");
        latch.start();
        out("leader", latch.await(20, TimeUnit.SECONDS));
        latch.close();

        DistributedAtomicLong counter = new DistributedAtomicLong(c, "/cur/counter", new RetryNTimes(10, 10));
        for (int i = 0; i < 5; i++) counter.increment();
        out("counter", counter.get().postValue());

        CountDownLatch seen = new CountDownLatch(1);
        CuratorCache cache = CuratorCache.build(c, "/cur/a");
        cache.listenable().addListener((type, oldData, data) -> {
            if (data != null && data.getPath().equals("/cur/a/late")) seen.countDown();
        });
        cache.start();
        c.create().forPath("/cur/a/late", "z".getBytes());
        out("cache saw create", seen.await(20, TimeUnit.SECONDS));
        cache.close();

        List<String> kids = new ArrayList<>(c.getChildren().forPath("/cur"));
        // Curator makes lock and latch parents containers; whether the reaper
        // has removed them yet is timing, not semantics.
        kids.remove("lock");
        kids.remove("leader");
        Collections.sort(kids);
        out("children", kids);
        c.delete().deletingChildrenIfNeeded().forPath("/cur");
        out("deleted", c.checkExists().forPath("/cur") == null);
        c.close();
    }
}
