/* model.h - the observed state of AWS resources, one struct per resource kind.
 * Owns: the structs the EC2 codec decodes into and the planner reads; vectors and their free.
 * Not: how they are read (controller/ec2_xml.c) or what should change (the planners).
 * Strings are fixed-size arrays sized for AWS's documented limits: decoding a longer value is
 * an error, never a silent truncation. */
#ifndef DS_MODEL_H
#define DS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DS_ID_LEN    64 /* resource ids, account ids, association ids */
#define DS_CIDR_LEN  48 /* "ffff:ffff:...::/128" fits */
#define DS_STATE_LEN 32
#define DS_TAG_KEY   512 /* 128 Unicode characters, UTF-8 */
#define DS_TAG_VALUE 1024
#define DS_DESC_LEN  256 /* AWS: descriptions and group names are at most 255 ASCII characters */

/* A vector of T. All vectors share this layout so generic code (the decoder) can grow them. */
#define DS_VEC(T)              \
	struct {               \
		T *v;          \
		size_t n, cap; \
	}

/* Generic access to any DS_VEC: grows it by one zeroed element and returns it, or NULL. */
void *vec_push(void *vec, size_t elem_size);
void vec_free(void *vec);

/* FNV-1a of s, continuing from h (start with DS_HASH_SEED): the project's one string hash, for
 * hash tables and for rollout shares (whose values must never change). */
#define DS_HASH_SEED 2166136261u
uint32_t ds_hash(uint32_t h, const char *s);

struct tag {
	char key[DS_TAG_KEY];
	char value[DS_TAG_VALUE];
};
struct tag_vec {
	struct tag *v;
	size_t n, cap;
};

struct cidr_assoc {
	char association_id[DS_ID_LEN];
	char cidr[DS_CIDR_LEN];
	char state[DS_STATE_LEN];
	char network_border_group[DS_ID_LEN]; /* IPv6: the region, or a Local Zone's group */
	char ipv6_pool[DS_ID_LEN];	      /* IPv6: "Amazon", or a BYOIP/IPAM pool */
};
struct cidr_assoc_vec {
	struct cidr_assoc *v;
	size_t n, cap;
};

struct vpc {
	char vpc_id[DS_ID_LEN];
	char owner_id[DS_ID_LEN];
	char cidr_block[DS_CIDR_LEN];
	char state[DS_STATE_LEN];
	bool is_default;
	struct cidr_assoc_vec cidr_assocs; /* IPv4, primary and secondary */
	struct cidr_assoc_vec ipv6_assocs;
	struct tag_vec tags;
};

struct subnet {
	char subnet_id[DS_ID_LEN];
	char vpc_id[DS_ID_LEN];
	char cidr_block[DS_CIDR_LEN];
	char availability_zone[DS_ID_LEN];
	char state[DS_STATE_LEN];
	bool assign_ipv6_on_creation;
	bool map_public_ip_on_launch;
	struct cidr_assoc_vec ipv6_assocs;
	struct tag_vec tags;
};

struct route {
	char dest_cidr[DS_CIDR_LEN];
	char dest_ipv6_cidr[DS_CIDR_LEN];
	char dest_prefix_list[DS_ID_LEN];
	char gateway_id[DS_ID_LEN];
	char egress_only_igw_id[DS_ID_LEN];
	char nat_gateway_id[DS_ID_LEN];
	char instance_id[DS_ID_LEN];
	char network_interface_id[DS_ID_LEN];
	char transit_gateway_id[DS_ID_LEN];
	char peering_id[DS_ID_LEN];
	char state[DS_STATE_LEN]; /* active | blackhole */
	char origin[DS_STATE_LEN];
};

struct rt_assoc {
	char association_id[DS_ID_LEN];
	char subnet_id[DS_ID_LEN];
	char gateway_id[DS_ID_LEN];
	bool main;
	char state[DS_STATE_LEN];
};

struct route_table {
	char route_table_id[DS_ID_LEN];
	char vpc_id[DS_ID_LEN];
	DS_VEC(struct rt_assoc) assocs;
	DS_VEC(struct route) routes;
	struct tag_vec tags;
};

struct gw_attachment {
	char vpc_id[DS_ID_LEN];
	char state[DS_STATE_LEN];
};

/* Internet gateways and egress-only internet gateways share this shape. */
struct gateway {
	char gateway_id[DS_ID_LEN];
	DS_VEC(struct gw_attachment) attachments;
	struct tag_vec tags;
};

struct sg_group_ref {
	char group_id[DS_ID_LEN];
	char user_id[DS_ID_LEN];
};

struct sg_range {
	char cidr[DS_CIDR_LEN];
	char description[DS_DESC_LEN];
};

struct sg_prefix_list {
	char prefix_list_id[DS_ID_LEN];
	char description[DS_DESC_LEN];
};

/* One IpPermission: a protocol and port range with its sources (or destinations). */
struct sg_permission {
	char protocol[DS_STATE_LEN]; /* "tcp", "udp", "icmp", "icmpv6", "-1" or a number */
	int from_port;		     /* for ICMP: the type, -1 for all */
	int to_port;		     /* for ICMP: the code, -1 for all */
	bool has_ports;
	DS_VEC(struct sg_group_ref) groups;
	DS_VEC(struct sg_range) ipv4_ranges;
	DS_VEC(struct sg_range) ipv6_ranges;
	DS_VEC(struct sg_prefix_list) prefix_lists;
};
struct sg_permission_vec {
	struct sg_permission *v;
	size_t n, cap;
};

struct security_group {
	char group_id[DS_ID_LEN];
	char group_name[DS_DESC_LEN];
	char description[DS_DESC_LEN];
	char vpc_id[DS_ID_LEN];
	char owner_id[DS_ID_LEN];
	struct sg_permission_vec ingress;
	struct sg_permission_vec egress;
	struct tag_vec tags;
};

struct nacl_entry {
	int rule_number;
	char protocol[DS_STATE_LEN]; /* a number as a string; "-1" for all */
	char rule_action[DS_STATE_LEN];
	bool egress;
	char cidr_block[DS_CIDR_LEN];
	char ipv6_cidr_block[DS_CIDR_LEN];
	bool has_icmp;
	int icmp_type;
	int icmp_code;
	bool has_ports;
	int port_from;
	int port_to;
};

struct nacl_assoc {
	char association_id[DS_ID_LEN];
	char subnet_id[DS_ID_LEN];
};

struct network_acl {
	char network_acl_id[DS_ID_LEN];
	char vpc_id[DS_ID_LEN];
	bool is_default;
	DS_VEC(struct nacl_assoc) assocs;
	DS_VEC(struct nacl_entry) entries;
	struct tag_vec tags;
};

struct ipv6_address {
	char address[DS_CIDR_LEN];
};

struct network_interface {
	char network_interface_id[DS_ID_LEN];
	char subnet_id[DS_ID_LEN];
	int device_index;
	DS_VEC(struct ipv6_address) ipv6_addresses;
};

/* Any network interface in the VPC, whoever created it: an instance, a load balancer, an
 * endpoint, Lambda (DescribeNetworkInterfaces; read by revert only - EC2 will not take a /64
 * off a subnet while any interface holds an address in it). */
struct vpc_interface {
	char network_interface_id[DS_ID_LEN];
	char subnet_id[DS_ID_LEN];
	char vpc_id[DS_ID_LEN];
	char interface_type[DS_STATE_LEN]; /* "interface", "network_load_balancer", "lambda"... */
	char description[DS_DESC_LEN];
	char instance_id[DS_ID_LEN]; /* the instance it is attached to; "" for none */
	bool requester_managed;	     /* an AWS service created it */
	DS_VEC(struct ipv6_address) ipv6_addresses;
};

struct block_device {
	char device_name[DS_ID_LEN];
	char ebs_volume_id[DS_ID_LEN]; /* empty: not an EBS mapping (instance store) */
	char virtual_name[DS_ID_LEN];  /* an AMI's "ephemeralN" mapping (DescribeImages) */
};

struct instance {
	char instance_id[DS_ID_LEN];
	char image_id[DS_ID_LEN];
	char instance_type[DS_ID_LEN];
	int state_code;
	char state[DS_STATE_LEN];
	char subnet_id[DS_ID_LEN];
	char vpc_id[DS_ID_LEN];
	char private_ip[DS_CIDR_LEN];
	char public_ip[DS_CIDR_LEN];
	char architecture[DS_STATE_LEN];
	char virtualization_type[DS_STATE_LEN];
	char root_device_type[DS_STATE_LEN];
	char root_device_name[DS_ID_LEN];
	char platform[DS_STATE_LEN];
	char platform_details[DS_DESC_LEN];
	char availability_zone[DS_ID_LEN];
	char lifecycle[DS_STATE_LEN];	      /* instanceLifecycle: "spot", "scheduled", "" */
	bool hibernation_configured;	      /* hibernationOptions/configured */
	bool ena_support;		      /* enaSupport */
	char boot_mode[DS_STATE_LEN];	      /* the AMI's, as DescribeInstances reports it */
	char current_boot_mode[DS_STATE_LEN]; /* currentInstanceBootMode */
	char state_reason[DS_ID_LEN];	      /* stateReason/code, e.g. Server.Insufficient... */
	DS_VEC(struct block_device) block_devices;
	DS_VEC(struct network_interface) interfaces;
	struct tag_vec tags;
};

struct instance_type_info {
	char instance_type[DS_ID_LEN];
	bool current_generation;
	bool ipv6_supported;
	bool instance_storage_supported;
	char storage_nvme[DS_STATE_LEN]; /* instanceStorageInfo/nvmeSupport: "required", ... */
	char ena_support[DS_STATE_LEN]; /* networkInfo/enaSupport: unsupported|supported|required */
	char ebs_nvme[DS_STATE_LEN];	/* ebsInfo/nvmeSupport: unsupported|supported|required */
	char boot_modes[DS_ID_LEN];	/* supportedBootModes, comma-separated */
	char virtualization_types[DS_ID_LEN]; /* comma-separated: "hvm,paravirtual" */
	char architectures[DS_ID_LEN];	      /* comma-separated: "x86_64,i386" */
	int default_vcpus;
	long memory_mib;
};

/* What SSM knows of a managed instance (DescribeInstanceInformation), for step 6. */
struct ssm_instance {
	char instance_id[DS_ID_LEN];
	char ping_status[DS_STATE_LEN];	  /* Online, ConnectionLost, Inactive */
	char platform_type[DS_STATE_LEN]; /* Linux, Windows */
	char platform_name[DS_DESC_LEN];  /* "Ubuntu", "Amazon Linux AMI", ... */
	char platform_version[DS_ID_LEN];
};

/* An AMI as DescribeImages tells it: whether its block device mapping brings ephemeral
 * (instance store) volumes to every instance launched from it. */
struct image {
	char image_id[DS_ID_LEN];
	char root_device_type[DS_STATE_LEN];
	char boot_mode[DS_STATE_LEN];
	DS_VEC(struct block_device) mappings;
};

/* An instance type offered in an Availability Zone (DescribeInstanceTypeOfferings). */
struct type_offering {
	char instance_type[DS_ID_LEN];
	char location[DS_ID_LEN];
};

/* DescribeInstanceAttribute disableApiStop of one instance (stop protection). */
struct stop_protection {
	char instance_id[DS_ID_LEN];
	bool disable_api_stop;
};

/* Everything observed about a set of VPCs (one account and region). */
struct observed {
	DS_VEC(struct vpc) vpcs;
	DS_VEC(struct subnet) subnets;
	DS_VEC(struct route_table) route_tables;
	DS_VEC(struct gateway) internet_gateways;
	DS_VEC(struct gateway) egress_only_gateways;
	DS_VEC(struct security_group) security_groups;
	DS_VEC(struct network_acl) network_acls;
	DS_VEC(struct instance) instances;
	DS_VEC(struct vpc_interface) interfaces; /* revert's reads only */
	DS_VEC(struct instance_type_info) instance_types;
	DS_VEC(struct ssm_instance) ssm_instances;
	/* read only for instances a resize would stop (the reader's last phase) */
	DS_VEC(struct image) images;
	DS_VEC(struct type_offering) type_offerings;
	DS_VEC(struct stop_protection) stop_protection;
	bool resize_facts_read; /* the three above were read (else "unknown", never "safe") */
};

void observed_init(struct observed *o);
void observed_cleanup(struct observed *o);

/* Looks up a tag value; NULL when absent. */
const char *tag_get(const struct tag_vec *tags, const char *key);

#endif
