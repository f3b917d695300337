#include "reader.h"

#include <stdlib.h>
#include <string.h>

#include "plan.h"

struct read_state {
	const struct ec2_port *port;
	const struct policy *pol;
	struct observed *obs;
	reader_done_fn done;
	void *ud;
	int outstanding;
	int rc;
	struct ec2_error err;
	char **vpc_ids;
	size_t n_vpc_ids;
	char **types;
	size_t n_types;
};

static void finish(struct read_state *st)
{
	st->done(st->ud, st->rc, st->rc ? &st->err : NULL);
	for (size_t i = 0; i < st->n_vpc_ids; i++)
		free(st->vpc_ids[i]);
	for (size_t i = 0; i < st->n_types; i++)
		free(st->types[i]);
	free(st->vpc_ids);
	free(st->types);
	free(st);
}

static void on_types(void *ud, int rc, const struct ec2_error *err)
{
	struct read_state *st = ud;
	if (rc && !st->rc) {
		st->rc = rc;
		st->err = *err;
	}
	finish(st);
}

static void on_kind(void *ud, int rc, const struct ec2_error *err)
{
	struct read_state *st = ud;
	if (rc && !st->rc) {
		st->rc = rc;
		if (err)
			st->err = *err;
	}
	if (--st->outstanding)
		return;
	if (st->rc || !st->obs->instances.n) {
		finish(st);
		return;
	}
	/* the instance types: what the VPCs run and every candidate a resize could pick */
	int r = plan_wanted_instance_types(st->pol, st->obs, &st->types, &st->n_types);
	struct ec2_read req = {.kind = OBS_INSTANCE_TYPES,
			       .names = (const char *const *)st->types,
			       .n_names = st->n_types};
	if (!r)
		r = st->port->read(st->port->ctx, &req, st->obs, on_types, st);
	if (r) {
		st->rc = r;
		finish(st);
	}
}

int reader_read(const struct ec2_port *port, const struct policy *pol, const char *const *vpc_ids,
		size_t n, struct observed *obs, reader_done_fn done, void *ud)
{
	struct read_state *st = calloc(1, sizeof(*st));
	if (!st)
		return DS_ENOMEM;
	st->port = port;
	st->pol = pol;
	st->obs = obs;
	st->done = done;
	st->ud = ud;
	st->vpc_ids = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; st->vpc_ids && i < n; i++) {
		st->vpc_ids[i] = strdup(vpc_ids[i]);
		if (st->vpc_ids[i])
			st->n_vpc_ids++;
	}
	if (!st->vpc_ids || st->n_vpc_ids != n) {
		st->done = NULL;
		for (size_t i = 0; i < st->n_vpc_ids; i++)
			free(st->vpc_ids[i]);
		free(st->vpc_ids);
		free(st);
		return DS_ENOMEM;
	}
	/* everything but instance types, in parallel; the limiter paces them */
	st->outstanding = OBS_INSTANCE_TYPES + 1; /* +1 held until every read is submitted */
	for (int k = 0; k < OBS_INSTANCE_TYPES; k++) {
		struct ec2_read req = {.kind = (enum obs_kind)k,
				       .vpc_ids = (const char *const *)st->vpc_ids,
				       .n_vpc_ids = st->n_vpc_ids};
		int r = port->read(port->ctx, &req, obs, on_kind, st);
		if (r) {
			st->outstanding -= OBS_INSTANCE_TYPES - k;
			if (!st->rc)
				st->rc = r;
			break;
		}
	}
	on_kind(st, 0, NULL); /* releases the hold */
	return DS_OK;
}
