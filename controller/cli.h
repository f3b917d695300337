/* cli.h - the subcommands of the dualstackd command line, and the AWS plumbing they share.
 * Owns: one entry point per subcommand (cmd_*.c) and the one-shot AWS session a CLI command
 * runs on (a loop, HTTP, credentials, the EC2 client).
 * Not: the daemon's long-lived wiring. */
#ifndef DS_CLI_H
#define DS_CLI_H

#include <ev.h>

#include "creds.h"
#include "ec2_client.h"
#include "http.h"

struct cli_session {
	struct ev_loop *loop;
	struct http_client *http;
	struct creds_cache *creds;
	struct ec2_client *ec2;
	struct ec2_target target;
};

/* Sets up a session for the controller's own account from the environment. */
int cli_session_init(struct cli_session *s, double budget, char *err, size_t err_len);
void cli_session_cleanup(struct cli_session *s);
/* Runs the loop until *done becomes non-zero. */
void cli_run_until(struct cli_session *s, const int *done);

/* The commands built on reconciles (plan, apply, report) run over the policy's whole scope:
 * every (account, region) at once, each target's VPCs (listed, or the ones named) reconciled in
 * windows; on_vpc gets each VPC when its window ends (then it is freed), on_error a target
 * that could not be read. Returns DS_OK, or DS_EAWS when some target failed. */
struct ec2_error;
struct policy;
struct reconciler;
struct reconcile_vpc;
struct fleet_request {
	struct reconciler *reconciler;
	const struct policy *policy;
	char **vpcs; /* none: every VPC in scope */
	size_t n_vpcs;
	bool execute;	       /* false: read and plan only */
	unsigned revert_steps; /* non-zero: undo those steps (reconcile_request.revert_steps) */
	const struct audit_log *audit; /* revert: older writes recognised from the audit topic */
	void (*on_vpc)(void *ud, const struct ec2_target *t, struct reconcile_vpc *v);
	void (*on_error)(void *ud, const struct ec2_target *t, int rc, const struct ec2_error *err);
	void *ud;
};
int cli_fleet_run(struct cli_session *s, const struct fleet_request *req);
/* Visits every (account, region) of the policy's scope with s->target set to it. */
void cli_each_target(struct cli_session *s, const struct policy *pol,
		     void (*fn)(void *ud, struct cli_session *s), void *ud);
/* Loads and validates a policy file (a reference); NULL after printing its errors. */
struct policy *cli_load_policy(const char *path);

int cmd_describe(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_check_policy(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_explain_event(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_revert(int argc, char **argv);

#endif
