/*
 * zab.h - Apache ZooKeeper's member protocol on the wire (3.5-3.9): pure
 * codecs, no I/O, no state.  Every decoder takes bytes from a peer and
 * answers "complete frame of N bytes", "need more" or "malformed"; a
 * malformed frame closes the link that sent it (the callers do that).
 *
 * Election port (QuorumCnxManager, FastLeaderElection):
 *   The connecting side first sends a hello, NOT length-framed:
 *     long protocolVersion (-65536 = V1, -65535 = V2) | long sid |
 *     int addrLen | addr bytes ("host:port", V2: "h1:p1|h2:p2")
 *   or, from old servers, just `long sid` (a non-negative first long).
 *   After that both directions carry [int length][bytes] messages (the same
 *   framing as peer.c's default).  Of the two connections a pair may open,
 *   the one initiated by the larger sid is kept: a member that receives a
 *   hello from a smaller sid closes it and connects back.
 *   A notification (one message):
 *     int state (0 looking, 1 following, 2 leading, 3 observing) |
 *     long leader | long zxid | long electionEpoch | long peerEpoch |
 *     int version (2) | int configLength | config bytes (QuorumVerifier text)
 *   28- and 40-byte forms from old servers decode too (no peerEpoch: taken
 *   from the zxid; no version).
 *
 * Quorum port (Learner, LearnerHandler): a stream of jute QuorumPackets,
 * not length-framed:
 *     int type | long zxid | buffer data (int len, -1 = null) |
 *     vector<Id> authinfo (int count, -1 = null; Id = string scheme, string id)
 *   except that right after a SNAP packet the leader writes the database
 *   raw: SerializeUtils.serializeSnapshot (int sessionCount, {long id, int
 *   timeout}*, then DataTree.serialize: int aclCount, {long ref, vector<ACL>}*,
 *   {string path, buffer data, long acl, StatPersisted}* up to the path "/"),
 *   then the string "BenWasHere".
 */
#ifndef ZKD_ZAB_H
#define ZKD_ZAB_H

#include <stddef.h>
#include <stdint.h>

#include "zk/jute.h"

/* QuorumPacket types (Leader.java). */
enum zab_type {
    ZAB_REQUEST = 1,
    ZAB_PROPOSAL = 2,
    ZAB_ACK = 3,
    ZAB_COMMIT = 4,
    ZAB_PING = 5,
    ZAB_REVALIDATE = 6,
    ZAB_SYNC = 7,
    ZAB_INFORM = 8,
    ZAB_COMMITANDACTIVATE = 9,
    ZAB_NEWLEADER = 10,
    ZAB_FOLLOWERINFO = 11,
    ZAB_UPTODATE = 12,
    ZAB_DIFF = 13,
    ZAB_TRUNC = 14,
    ZAB_SNAP = 15,
    ZAB_OBSERVERINFO = 16,
    ZAB_LEADERINFO = 17,
    ZAB_ACKEPOCH = 18,
    ZAB_INFORMANDACTIVATE = 19,
};

#define ZAB_PROTOCOL_V1 (-65536LL)
#define ZAB_PROTOCOL_V2 (-65535LL)
/* The protocol version a 3.4+ learner and leader announce (0x10000). */
#define ZAB_LEARNER_PROTOCOL 0x10000
#define ZAB_SNAP_SIGNATURE "BenWasHere"
/* QuorumCnxManager's limits: a hello address and a notification. */
#define ZAB_MAX_HELLO_ADDR 2048
#define ZAB_MAX_NOTE (512 * 1024)

/* A decoded QuorumPacket; data points into the frame (NULL when absent). */
struct zab_packet {
    int32_t type;
    int64_t zxid;
    const uint8_t *data;
    int32_t dlen;            /* -1: null */
};

/* Length of the QuorumPacket at the start of p[0..len): > 0 complete,
 * 0 incomplete, -1 malformed (a negative length other than -1, or more than
 * `max` bytes).  Never reads past len. */
long zab_packet_frame(const uint8_t *p, size_t len, size_t max);
/* Decodes a complete frame (zab_packet_frame said so).  Returns 0 or -1. */
int zab_packet_decode(const uint8_t *p, size_t len, struct zab_packet *out);
/* Appends a QuorumPacket with no authinfo; dlen -1 writes null data. */
void zab_put_packet(struct jute_out *o, int32_t type, int64_t zxid, const void *data,
                    int32_t dlen);
/* The same with authinfo: `nauth` pairs (scheme, id), as a REQUEST carries
 * the client connection's identities (the leader checks ACLs with them; a
 * null list makes Apache's leader fail the request). */
void zab_put_packet_auth(struct jute_out *o, int32_t type, int64_t zxid, const void *data,
                         int32_t dlen, const char *const *schemes, const char *const *ids,
                         int nauth);

/* LearnerInfo (sid, protocol version 0x10000, config version). */
void zab_put_learnerinfo(struct jute_out *o, int64_t sid, int64_t config_version);
/* Decodes FOLLOWERINFO/OBSERVERINFO data: long sid, then (3.4+) int
 * protocolVersion and (3.5+) long configVersion; *config_version is -1 when
 * absent.  Returns 0, or -1 for data shorter than a sid or a negative sid. */
int zab_get_learnerinfo(const struct zab_packet *pk, int64_t *sid, int64_t *config_version);

/* A REQUEST's data: long sessionId, int cxid, int type, then the request
 * body (what follows the xid and type of the client's frame). */
struct zab_request {
    int64_t session;
    int32_t cxid, type;
    const uint8_t *frame;    /* int cxid, int type, body: a client request frame */
    size_t flen;
};
/* Returns 0, or -1 for data shorter than the header. */
int zab_get_request(const struct zab_packet *pk, struct zab_request *r);

/* The authinfo of a complete QuorumPacket frame: up to `max` Ids as slices
 * into the frame.  Returns their count (0 for a null or empty list), or -1
 * if the list is malformed or holds more than `max`. */
int zab_packet_auth(const uint8_t *p, size_t len, struct zk_slice *schemes, struct zk_slice *ids,
                    int max);

/* Length of the SNAP database stream with its signature at p[0..len):
 * > 0 complete (ending with "BenWasHere"), 0 incomplete, -1 malformed.  *body
 * gets the length without the signature. */
long zab_snap_frame(const uint8_t *p, size_t len, size_t *body);

/* The election-port hello. */
void zab_put_hello(struct jute_out *o, int64_t sid, const char *addr);
/* Length of the hello at p[0..len): > 0 complete, 0 incomplete, -1
 * malformed.  OUT: *sid. */
long zab_hello_frame(const uint8_t *p, size_t len, int64_t *sid);

struct zab_note {
    int32_t state;
    int64_t leader, zxid, election_epoch, peer_epoch;
    int32_t version;
    const uint8_t *config;   /* points into the message (NULL when absent) */
    int32_t config_len;
};
/* Appends a version-2 notification (the message body, without the length). */
void zab_put_note(struct jute_out *o, const struct zab_note *n);
/* Decodes one notification message body.  Returns 0 or -1 (malformed). */
int zab_get_note(const uint8_t *p, size_t len, struct zab_note *n);

#endif
