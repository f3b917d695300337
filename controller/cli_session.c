#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_session_init(struct cli_session *s, double budget, char *err, size_t err_len)
{
	memset(s, 0, sizeof(*s));
	int rc = ec2_target_from_env(&creds_env_default, &s->target, err, err_len);
	if (rc)
		return rc;
	s->loop = ev_default_loop(0);
	s->http = http_client_new(s->loop);
	s->creds = creds_cache_new(&creds_env_default, s->target.region);
	struct ec2_client_options opt = {.budget = budget, .max_attempts = 3};
	/* For emulators only (moto never throttles): scales EC2's documented buckets. */
	const char *scale = getenv("DUALSTACKD_BUCKET_SCALE");
	if (scale)
		opt.bucket_scale = strtod(scale, NULL);
	/* apply runs for hours on a fleet: the same refresher as the daemon's */
	if (s->creds && creds_cache_refresh_in_background(s->creds, s->loop)) {
		creds_cache_free(s->creds);
		s->creds = NULL;
	}
	s->ec2 = s->http && s->creds ? ec2_client_new(s->http, s->creds, &opt) : NULL;
	if (!s->ec2) {
		snprintf(err, err_len, "out of memory");
		cli_session_cleanup(s);
		return DS_ENOMEM;
	}
	return DS_OK;
}

void cli_session_cleanup(struct cli_session *s)
{
	ec2_client_free(s->ec2);
	creds_cache_free(s->creds);
	http_client_free(s->http);
	memset(s, 0, sizeof(*s));
}

void cli_run_until(struct cli_session *s, const int *done)
{
	while (!*done)
		ev_run(s->loop, EVRUN_ONCE);
}
