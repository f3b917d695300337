/* libFuzzer target: the EC2 XML decoder with every root schema, then the JSON printer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../controller/ec2_xml.h"
#include "../../controller/model_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct xml_schema *const roots[] = {
	    &ec2_xml_describe_vpcs,
	    &ec2_xml_describe_subnets,
	    &ec2_xml_describe_route_tables,
	    &ec2_xml_describe_internet_gateways,
	    &ec2_xml_describe_egress_only_gateways,
	    &ec2_xml_describe_security_groups,
	    &ec2_xml_describe_network_acls,
	    &ec2_xml_describe_instances,
	    &ec2_xml_describe_network_interfaces,
	    &ec2_xml_describe_instance_types,
	};
	if (size < 1)
		return 0;
	const struct xml_schema *root = roots[data[0] % (sizeof(roots) / sizeof(roots[0]))];
	struct observed obs;
	struct ec2_meta meta;
	char err[256];
	observed_init(&obs);
	if (ec2_xml_decode(root, &obs, (const char *)data + 1, size - 1, &meta, err, sizeof(err)) ==
	    0) {
		cJSON *j = model_json(root, &obs);
		char *s = cJSON_PrintUnformatted(j);
		free(s);
		cJSON_Delete(j);
	}
	observed_cleanup(&obs);
	return 0;
}
