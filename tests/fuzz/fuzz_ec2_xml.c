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
	/* every root takes the whole input: the seeds are EC2's answers as they come (a selector
	 * byte in front made each one invalid XML, and the fuzzer never got past the prolog) */
	for (size_t r = 0; r < sizeof(roots) / sizeof(roots[0]); r++) {
		struct observed obs;
		struct ec2_meta meta;
		char err[256];
		observed_init(&obs);
		if (ec2_xml_decode(roots[r], &obs, (const char *)data, size, &meta, err,
				   sizeof(err)) == 0) {
			cJSON *j = model_json(roots[r], &obs);
			char *s = cJSON_PrintUnformatted(j);
			free(s);
			cJSON_Delete(j);
		}
		observed_cleanup(&obs);
	}
	return 0;
}
