/* The operating systems and commands of the guide's step 6 ("Configure IPv6 on your
 * instances"): Amazon Linux before 2016.09, Ubuntu 14 and 16, RHEL/CentOS 6 and 7, Windows
 * Server 2003 and 2008 SP2 need DHCPv6 turned on; newer ones do it by themselves. The Linux
 * scripts find the interface on the host (the default route's; not every image calls it
 * eth0) and ask for a lease with dhclient instead of restarting the network, so the SSM agent
 * keeps its connection. Every script checks before it edits: sending it twice does no harm. */
#include "guest.h"

#include <stdlib.h>
#include <string.h>

static int major(const char *version)
{
	return (int)strtol(version, NULL, 10);
}

enum guest_os guest_os_classify(const struct ssm_instance *s)
{
	const char *n = s->platform_name, *v = s->platform_version;
	if (!strcmp(s->platform_type, "Windows")) {
		/* 5.2: Server 2003; 6.0: Server 2008 (SP2); 6.1+: 2008 R2 and later */
		if (!strncmp(v, "5.2", 3) || !strncmp(v, "6.0", 3))
			return GUEST_OS_WINDOWS_OLD;
		return v[0] ? GUEST_OS_CONFIGURED : GUEST_OS_UNKNOWN;
	}
	if (strstr(n, "Amazon Linux")) {
		/* "Amazon Linux AMI" 2016.03 and older; "Amazon Linux" 2 and 2023 are configured */
		if (strstr(n, "AMI") && strcmp(v, "2016.09") < 0)
			return GUEST_OS_AMAZON_LINUX_OLD;
		return GUEST_OS_CONFIGURED;
	}
	if (strstr(n, "Ubuntu")) {
		int m = major(v);
		return m == 14	 ? GUEST_OS_UBUNTU_14
		       : m == 16 ? GUEST_OS_UBUNTU_16
		       : m > 16	 ? GUEST_OS_CONFIGURED
				 : GUEST_OS_UNKNOWN;
	}
	if (strstr(n, "Red Hat") || strstr(n, "CentOS")) {
		int m = major(v);
		return m == 6	? GUEST_OS_RHEL_CENTOS_6
		       : m == 7 ? GUEST_OS_RHEL_CENTOS_7
		       : m > 7	? GUEST_OS_CONFIGURED
				: GUEST_OS_UNKNOWN;
	}
	return GUEST_OS_UNKNOWN;
}

const char *guest_os_name(enum guest_os os)
{
	static const char *const names[] = {
	    "unknown",	     "configured",	    "amazon-linux-before-2016.09",
	    "ubuntu-14",     "ubuntu-16",	    "rhel-centos-6",
	    "rhel-centos-7", "windows-2003-2008sp2"};
	return names[os];
}

/* The interface of the default route (ens5, eth0, ...), else the first that is not lo. */
#define FIND_IF                                                                       \
	"IF=$(ip -o -4 route show to default 2>/dev/null | awk '{print $5; exit}'); " \
	"[ -n \"$IF\" ] || IF=$(ls /sys/class/net | grep -v '^lo$' | head -n 1); "    \
	"[ -n \"$IF\" ] || { echo 'no network interface found' >&2; exit 1; }"

/* Amazon Linux before 2016.09 and RHEL/CentOS 6: ifcfg IPV6INIT/DHCPV6C, NETWORKING_IPV6. */
static const char *const sysconfig6[] = {
    FIND_IF,
    "f=/etc/sysconfig/network-scripts/ifcfg-$IF",
    "grep -q '^IPV6INIT=yes' $f || printf 'IPV6INIT=yes\\nDHCPV6C=yes\\n' >> $f",
    "grep -q '^NETWORKING_IPV6=yes' /etc/sysconfig/network || "
    "echo 'NETWORKING_IPV6=yes' >> /etc/sysconfig/network",
    "dhclient -6 -nw $IF || true",
    NULL,
};

/* RHEL/CentOS 7: the same, NM_CONTROLLED=no, and cloud-init told to leave the network
 * configuration alone (else it rewrites ifcfg at the next boot). */
static const char *const sysconfig7[] = {
    FIND_IF,
    "f=/etc/sysconfig/network-scripts/ifcfg-$IF",
    "grep -q '^IPV6INIT=yes' $f || printf 'IPV6INIT=yes\\nDHCPV6C=yes\\nNM_CONTROLLED=no\\n' >> $f",
    "grep -q '^NETWORKING_IPV6=yes' /etc/sysconfig/network || "
    "echo 'NETWORKING_IPV6=yes' >> /etc/sysconfig/network",
    "c=/etc/cloud/cloud.cfg.d/99-custom-networking.cfg",
    "[ ! -d /etc/cloud/cloud.cfg.d ] || [ -f $c ] || echo 'network: {config: disabled}' > $c",
    "dhclient -6 -nw $IF || true",
    NULL,
};

/* Ubuntu 16: an inet6 dhcp stanza for the interface. */
static const char *const ubuntu16[] = {
    FIND_IF,
    "f=/etc/network/interfaces.d/60-default-with-ipv6.cfg",
    "[ -f $f ] || echo \"iface $IF inet6 dhcp\" > $f",
    "dhclient -6 -nw $IF || true",
    NULL,
};

/* Ubuntu 14: the same stanza, and a dhclient that is asked for IPv6 at every ifup. */
static const char *const ubuntu14[] = {
    FIND_IF,
    "f=/etc/network/interfaces.d/60-default-with-ipv6.cfg",
    "[ -f $f ] || printf 'iface %s inet6 dhcp\\n    up dhclient -6 -nw %s\\n' $IF $IF > $f",
    "dhclient -6 -nw $IF || true",
    NULL,
};

/* Windows Server 2003 and 2008 SP2: stable identifiers, no privacy addresses, a new lease. */
static const char *const windows[] = {
    "netsh interface ipv6 install 2>$null",
    "netsh interface ipv6 set global randomizeidentifiers=disabled",
    "netsh interface ipv6 set privacy state=disabled",
    "ipconfig /renew6",
    NULL,
};

const char *guest_document(enum guest_os os)
{
	return os == GUEST_OS_WINDOWS_OLD ? "AWS-RunPowerShellScript" : "AWS-RunShellScript";
}

const char *const *guest_commands(enum guest_os os)
{
	switch (os) {
	case GUEST_OS_AMAZON_LINUX_OLD:
	case GUEST_OS_RHEL_CENTOS_6: return sysconfig6;
	case GUEST_OS_RHEL_CENTOS_7: return sysconfig7;
	case GUEST_OS_UBUNTU_14: return ubuntu14;
	case GUEST_OS_UBUNTU_16: return ubuntu16;
	case GUEST_OS_WINDOWS_OLD: return windows;
	default: return NULL;
	}
}
