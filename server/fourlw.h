/*
 * fourlw.h - Apache's four-letter-word commands on the client port.
 *
 * A connection whose first four bytes spell a known command (ruok, srvr,
 * stat, mntr, conf, cons, crst, envi, wchs, wchc, wchp, dump, dirs, isro,
 * srst) gets that command's text and is closed, as with Apache.  Commands
 * not in 4lw.commands.whitelist answer "<cmd> is not executed because it is
 * not in the whitelist.".
 */
#ifndef ZKD_FOURLW_H
#define ZKD_FOURLW_H

#include <stdint.h>

struct server;
struct conn;
struct watch_owner;

/* Whether the 4 bytes at p are a four-letter word zkd knows. */
int fourlw_is_command(const uint8_t *p);
/* Writes the command's answer to c and closes c after it is sent. */
void fourlw_run(struct server *s, struct conn *c, const uint8_t *p);

/* Apache's four-letter name of a request type ("GETD", "CREA", ...; "NA"),
 * as `cons` shows a connection's last operation. */
const char *fourlw_op_name(int32_t op);
/* The session id of the connection owning watch registration `w`. */
int64_t fourlw_owner_session(const struct watch_owner *w);

#endif
