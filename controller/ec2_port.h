/* ec2_port.h - the core's EC2 port (reconcile/ec2_ops.h) on the real client.
 * Owns: mapping the port's reads onto ec2_describe, its calls onto ec2_call, its timers onto
 * libev, and the decoders the executor needs. Not: any decision. */
#ifndef DS_EC2_PORT_H
#define DS_EC2_PORT_H

#include "../reconcile/ec2_ops.h"
#include "ec2_client.h"

struct ec2_port_impl {
	struct ec2_port port;
	struct ec2_client *client;
	struct ec2_target target;
	struct ev_loop *loop;
};

/* Fills impl for one target; impl->port is what the core gets. */
void ec2_port_init(struct ec2_port_impl *impl, struct ec2_client *client,
		   const struct ec2_target *target, struct ev_loop *loop);

#endif
