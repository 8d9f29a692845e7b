/*
 * datatool.h - offline tools for a data directory, as zkd subcommands:
 *
 *   zkd snapshot-dump FILE [--json]   the tree (ls -R-like, with every Stat
 *                                     field; JSON with ACLs), then the sessions
 *   zkd log-dump FILE                 one line per transaction, then the zxid range
 *   zkd verify-datadir DIR            every snapshot's checksum, every log's
 *                                     framing and checksums, gaps between files
 *
 * FILE and DIR may come from zkd or from Apache ZooKeeper 3.5-3.9 (the same
 * format).  Nothing on disk is changed.  Exit status: 0 fine, 1 damage found
 * (details on stderr), 2 usage.  A snapshot whose writing was cut short
 * (incomplete: no seal at its end) is reported and is not damage, since
 * Apache's recovery and zkd's skip it, unless no snapshot is usable.
 */
#ifndef ZKD_DATATOOL_H
#define ZKD_DATATOOL_H

/* True if argv[1] names one of the tools. */
int datatool_is_command(const char *arg);
/* Runs the tool argv[1] with its arguments; returns the exit status. */
int datatool_main(int argc, char **argv);

#endif
