/*
 * admin.h - the AdminServer: Apache ZooKeeper's HTTP admin interface.
 *
 * GET http://<admin.serverAddress>:<admin.serverPort><admin.commandURL>/<cmd>
 * answers a JSON object with Apache 3.9's field names, plus "command" (the
 * command's primary name) and "error" (null, or why it failed).  The command
 * URL itself lists every command as HTML links, as Jetty's does.  Commands
 * and aliases are those of Apache's Commands.java (ruok, monitor/mntr,
 * stats/stat, server_stats/srvr, configuration/conf, connections/cons, dump,
 * environment/envi, watch_summary/wchs, watches/wchc, watches_by_path/wchp,
 * dirs, is_read_only/isro, leader/lead, last_snapshot/lsnp, observers/obsr,
 * observer_connection_stat_reset/orst, system_properties/sysp, voting_view,
 * zabstate, hash, initial_configuration/icfg, connection_stat_reset/crst,
 * stat_reset/srst, get_trace_mask/gtmk, set_trace_mask/stmk, snapshot,
 * restore, shed_connections), and zkd's own log_level (?level=debug sets the
 * log threshold at run time).
 *
 * As in Apache: an unknown command answers 200 with "Unknown command: x";
 * a command that needs a serving server answers 200 with "This ZooKeeper
 * instance is not currently serving requests" on a member that is not
 * serving.  Apache 3.9 gates snapshot, restore and shed_connections behind
 * the Authorization header ("digest user:password", "ip", "x509") and the
 * ACL of "/" (every permission); a missing header answers 401 "Auth info is
 * missing for the command", a bad scheme or credential 401 "Not
 * authenticated", an identity the ACL refuses 403 "Not authorized".  zkd
 * serves no HTTPS, so x509 never authenticates.  Once past the gate these
 * three answer 503: zkd does not implement them yet.
 *
 * A port that cannot be bound is logged and zkd serves clients without the
 * AdminServer, as Apache does.  Threading: see httpd.h.
 */
#ifndef ZKD_ADMIN_H
#define ZKD_ADMIN_H

struct server;
struct admin;

/* Starts the AdminServer when admin.enableServer is set.  Returns it, or NULL
 * when disabled or when it could not listen (logged).  Loop thread. */
struct admin *admin_start(struct server *s);
/* The port it listens on. */
int admin_port(const struct admin *a);
/* Stops it (NULL is a no-op).  Loop thread. */
void admin_stop(struct admin *a);

#endif
