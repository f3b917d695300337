/* Audit records (the daemon's audit topic, as JSON lines) -> the writes revert recognises. */
#include <stdlib.h>
#include <string.h>

#include "../../reconcile/audit.h"
#include "check.h"

static const char records[] =
    /* what the daemon produces (controller/daemon_work.c), one per line */
    "{\"time\":\"2026-11-26T12:00:00.000Z\",\"replica\":\"a\",\"account\":\"123456789012\","
    "\"region\":\"us-east-1\",\"vpc\":\"vpc-1\",\"action\":\"AssociateVpcCidrBlock\","
    "\"parameters\":\"VpcId=vpc-1&AmazonProvidedIpv6CidrBlock=true\",\"request_id\":\"r\","
    "\"outcome\":\"ok\"}\n"
    "{\"vpc\":\"vpc-1\",\"action\":\"AuthorizeSecurityGroupIngress\",\"parameters\":"
    "\"GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=443&"
    "IpPermissions.1.ToPort=443&IpPermissions.1.Ipv6Ranges.1.CidrIpv6=%3A%3A%2F0&"
    "IpPermissions.1.Ipv6Ranges.1.Description=https%20%5Bdualstackd%5D\",\"outcome\":\"ok\"}\n"
    "\r\n"
    /* a write that was there already: not ours */
    "{\"vpc\":\"vpc-1\",\"action\":\"CreateNetworkAclEntry\",\"parameters\":"
    "\"NetworkAclId=acl-1&RuleNumber=101&Protocol=-1&RuleAction=allow&Egress=false&"
    "Ipv6CidrBlock=%3A%3A%2F0\",\"outcome\":\"duplicate\",\"error\":"
    "\"NetworkAclEntryAlreadyExists\"}\n"
    "{\"vpc\":\"vpc-1\",\"action\":\"CreateNetworkAclEntry\",\"parameters\":"
    "\"NetworkAclId=acl-1&RuleNumber=102&Protocol=-1&RuleAction=allow&Egress=true&"
    "Ipv6CidrBlock=%3A%3A%2F0\",\"outcome\":\"ok\"}\n"
    /* IPv4 entries are never dualstackd's, the attribute only when turned on */
    "{\"vpc\":\"vpc-1\",\"action\":\"CreateNetworkAclEntry\",\"parameters\":"
    "\"NetworkAclId=acl-1&RuleNumber=5&CidrBlock=10.0.0.0%2F8&Egress=true\",\"outcome\":\"ok\"}\n"
    "{\"vpc\":\"vpc-1\",\"action\":\"ModifySubnetAttribute\",\"parameters\":"
    "\"SubnetId=subnet-2&AssignIpv6AddressOnCreation.Value=false\",\"outcome\":\"ok\"}\n"
    "{\"vpc\":\"vpc-1\",\"action\":\"CreateRoute\",\"parameters\":\"RouteTableId=rtb-1&"
    "DestinationIpv6CidrBlock=%3A%3A%2F0&GatewayId=igw-1\",\"outcome\":\"ok\"}\n"
    "{\"vpc\":\"vpc-1\",\"action\":\"AssignIpv6Addresses\",\"parameters\":"
    "\"NetworkInterfaceId=eni-1&Ipv6AddressCount=1\",\"outcome\":\"ok\"}\n"
    "{\"vpc\":\"vpc-1\",\"action\":\"StopInstances\",\"parameters\":\"InstanceId.1=i-1\","
    "\"outcome\":\"ok\"}";

void test_audit(void)
{
	struct audit_log a;
	char err[256] = "";
	audit_init(&a);
	CHECK_MSG(audit_parse(&a, records, strlen(records), err, sizeof(err)) == DS_OK, "%s", err);
	audit_index(&a);
	CHECK(a.records == 9);
	CHECK(a.used == 5); /* the /56, the range, entry 102, the route, the address */
	CHECK(audit_has(&a, AUDIT_VPC_BLOCK, "vpc-1"));
	CHECK(!audit_has(&a, AUDIT_VPC_BLOCK, "vpc-2"));
	CHECK(audit_has(&a, AUDIT_ROUTE, "rtb-1"));
	CHECK(audit_has(&a, AUDIT_ADDRESS, "eni-1"));
	CHECK(!audit_has(&a, AUDIT_SUBNET_ATTR, "subnet-2"));
	CHECK(audit_has_entry(&a, "acl-1", 102, true));
	CHECK(!audit_has_entry(&a, "acl-1", 101, false)); /* it existed: the owner's */
	CHECK(!audit_has_entry(&a, "acl-1", 5, true));	  /* IPv4 */
	/* Describe answers "6" or "tcp": one name per protocol */
	CHECK(audit_has_range(&a, "sg-1", false, "tcp", true, 443, 443, "::/0"));
	CHECK(audit_has_range(&a, "sg-1", false, "6", true, 443, 443, "::/0"));
	CHECK(!audit_has_range(&a, "sg-1", true, "tcp", true, 443, 443, "::/0"));
	CHECK(!audit_has_range(&a, "sg-1", false, "tcp", true, 80, 80, "::/0"));
	audit_cleanup(&a);

	/* not a record: an error that names the line, nothing guessed */
	static const char *const bad[] = {
	    "{\"action\":\"CreateRoute\",\"outcome\":\"ok\"}\n",
	    "\n\nnot json\n",
	    "{\"action\":1,\"parameters\":\"\",\"outcome\":\"ok\"}",
	};
	static const char *const line[] = {"line 1:", "line 3:", "line 1:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		audit_init(&a);
		err[0] = '\0';
		CHECK(audit_parse(&a, bad[i], strlen(bad[i]), err, sizeof(err)) == DS_EPARSE);
		CHECK_MSG(!strncmp(err, line[i], strlen(line[i])), "%zu: %s", i, err);
		audit_cleanup(&a);
	}
	/* fed a line at a time (as revert --audit reads a file), lines are numbered across calls */
	static const char good[] = "{\"action\":\"CreateRoute\",\"parameters\":\"\","
				   "\"outcome\":\"ok\"}\n";
	audit_init(&a);
	CHECK(audit_parse(&a, good, strlen(good), err, sizeof(err)) == DS_OK);
	CHECK(audit_parse(&a, "\n", 1, err, sizeof(err)) == DS_OK);
	CHECK(audit_parse(&a, "not json\n", 9, err, sizeof(err)) == DS_EPARSE);
	CHECK_MSG(!strncmp(err, "line 3:", 7), "%s", err);
	CHECK(a.records == 1);
	audit_cleanup(&a);
	/* broken escapes and values too long are no value: the record names no write */
	static const char broken[] =
	    "{\"action\":\"AssignIpv6Addresses\",\"parameters\":\"NetworkInterfaceId=eni-%G1\","
	    "\"outcome\":\"ok\"}\n";
	audit_init(&a);
	CHECK(audit_parse(&a, broken, strlen(broken), err, sizeof(err)) == DS_OK);
	CHECK(a.records == 1 && a.used == 0);
	audit_cleanup(&a);
}
