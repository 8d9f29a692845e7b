// CuratorTrees: builds trees the way Curator applications do, for tests/zkfs/test_trees.py
// (zkfs must show the parents as directories).  Usage: CuratorTrees host:port /root
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.utils.ZKPaths;

public class CuratorTrees {
    static void out(String step, Object v) { System.out.println(step + " => " + v); }

    public static void main(String[] args) throws Exception {
        String root = args[1];
        CuratorFramework c = CuratorFrameworkFactory.newClient(args[0], 15000, 10000,
                new ExponentialBackoffRetry(100, 3));
        c.start();
        out("connected", c.blockUntilConnected(20, TimeUnit.SECONDS));
        // Parents made with new byte[0], the leaf with data.
        out("creatingParentsIfNeeded", c.create().creatingParentsIfNeeded()
                .forPath(root + "/services/api/instances/i-1", "{\"port\":8080}".getBytes()));
        // ZKPaths.mkdirs: every node of the path, the last one too, with new byte[0].
        ZKPaths.mkdirs(c.getZookeeperClient().getZooKeeper(), root + "/config/app/env");
        out("mkdirs", c.checkExists().forPath(root + "/config/app/env").getDataLength());
        c.close();
    }
}
