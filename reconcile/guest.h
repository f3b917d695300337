/* guest.h - step 6: which guest operating systems need DHCPv6 configured, and the guide's
 * commands that configure it. Owns the OS table and the scripts; pure.
 * Not: sending them (the executor, through SSM Run Command). */
#ifndef DS_GUEST_H
#define DS_GUEST_H

#include <stdbool.h>

#include "model.h"

enum guest_os {
	GUEST_OS_UNKNOWN,
	GUEST_OS_CONFIGURED,	   /* the guide says it needs nothing */
	GUEST_OS_AMAZON_LINUX_OLD, /* Amazon Linux AMI before 2016.09 */
	GUEST_OS_UBUNTU_14,
	GUEST_OS_UBUNTU_16,
	GUEST_OS_RHEL_CENTOS_6,
	GUEST_OS_RHEL_CENTOS_7,
	GUEST_OS_WINDOWS_OLD, /* Windows Server 2003, 2008 SP2 */
};

/* Classifies an SSM-managed instance by PlatformName and PlatformVersion. */
enum guest_os guest_os_classify(const struct ssm_instance *s);
const char *guest_os_name(enum guest_os os);
/* The SSM document and the commands (NULL-terminated) for an OS that needs configuring. */
const char *guest_document(enum guest_os os);
const char *const *guest_commands(enum guest_os os);

#define TAG_GUEST_CONFIG "dualstack:guest-config"

#endif
