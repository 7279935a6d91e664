/* daemon.h: `tweetmatch run` and `tweetmatch health`.
 *
 * The daemon wires the pipeline together on one event loop (loop.h):
 * stream (stream.h) -> rule (rule.h) -> writer (ddb.h). The stream hands
 * each whole message to the rule; the items the rule returns go to the
 * writer's queue; when the queue is full the stream is paused. Data flows
 * one way: the stream and the writer never call each other.
 *
 * Configured from the environment (the original Fargate task definition's
 * names, see the README), validated before anything connects. Exit codes:
 * 0 after SIGTERM/SIGINT and a flush; 2 a configuration error or a script
 * that does not load; 3 a permanent refusal (table missing, access denied,
 * credentials refused, Twitter 401/403/404); 1 anything else fatal. */
#ifndef TM_DAEMON_H
#define TM_DAEMON_H

int daemon_run(int argc, char **argv);
int daemon_health(int argc, char **argv);

#endif
