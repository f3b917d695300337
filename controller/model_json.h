/* model_json.h - observed model -> JSON, shaped like boto3's answers (for `describe`).
 * Owns: walking the EC2 codec's field tables to print what was decoded, with boto3's names.
 * Not: decoding; the same tables drive ec2_xml.c, so the two can never disagree on fields. */
#ifndef DS_MODEL_JSON_H
#define DS_MODEL_JSON_H

#include <cJSON.h>

#include "ec2_xml.h"

/* Returns a new JSON object with the fields `schema` describes for the struct at base. */
cJSON *model_json(const struct xml_schema *schema, const void *base);

#endif
