#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../reconcile/policy.h"
#include "daemon.h"
#include "halt_file.h"

static int str(const cJSON *o, const char *key, char *dst, size_t size, const char *def,
	       const char *path, char *err, size_t err_len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v) {
		if (!def) {
			snprintf(err, err_len, "%s: $.%s: expected a string, got nothing", path,
				 key);
			return -1;
		}
		snprintf(dst, size, "%s", def);
		return 0;
	}
	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= size) {
		snprintf(err, err_len, "%s: $.%s: expected a non-empty string", path, key);
		return -1;
	}
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

int daemon_config_load(const char *path, struct daemon_config *cfg, char *err, size_t err_len)
{
	memset(cfg, 0, sizeof(*cfg));
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_len, "%s: cannot open: %m", path);
		return -1;
	}
	char *text = malloc(1 << 20);
	size_t n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (!text)
		return -1;
	text[n] = '\0';
	char perr[256];
	cJSON *root = policy_doc_parse(path, text, n, perr, sizeof(perr));
	free(text);
	if (!cJSON_IsObject(root)) {
		snprintf(err, err_len, "%s: %s", path, root ? "expected an object" : perr);
		cJSON_Delete(root);
		return -1;
	}
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "kafka");
	int rc = 0;
	if (!cJSON_IsObject(k)) {
		snprintf(err, err_len, "%s: $.kafka: expected an object", path);
		rc = -1;
	}
	if (!rc)
		rc =
		    str(k, "brokers", cfg->brokers, sizeof(cfg->brokers), NULL, path, err, err_len);
	if (!rc)
		rc = str(k, "group", cfg->group, sizeof(cfg->group), "dualstackd", path, err,
			 err_len);
	if (!rc)
		rc = str(k, "work_topic", cfg->work_topic, sizeof(cfg->work_topic),
			 "dualstackd.work", path, err, err_len);
	if (!rc)
		rc = str(k, "dead_letter_topic", cfg->dead_letter_topic,
			 sizeof(cfg->dead_letter_topic), "dualstackd.deadletter", path, err,
			 err_len);
	if (!rc)
		rc = str(k, "audit_topic", cfg->audit_topic, sizeof(cfg->audit_topic),
			 "dualstackd.audit", path, err, err_len);
	const cJSON *topics = cJSON_GetObjectItemCaseSensitive(k, "input_topics");
	if (!rc && (!cJSON_IsArray(topics) || cJSON_GetArraySize(topics) < 1 ||
		    cJSON_GetArraySize(topics) > 8)) {
		snprintf(err, err_len, "%s: $.kafka.input_topics: expected a list of 1 to 8 topics",
			 path);
		rc = -1;
	}
	const cJSON *t;
	const cJSON *list = rc ? NULL : topics;
	cJSON_ArrayForEach(t, list)
	{
		if (!cJSON_IsString(t) || strlen(t->valuestring) >= sizeof(cfg->input_topics[0])) {
			snprintf(err, err_len, "%s: $.kafka.input_topics: expected topic names",
				 path);
			rc = -1;
			break;
		}
		memcpy(cfg->input_topics[cfg->n_input_topics++], t->valuestring,
		       strlen(t->valuestring) + 1);
	}
	if (!rc)
		rc = str(k, "sasl_mechanism", cfg->sasl_mechanism, sizeof(cfg->sasl_mechanism), "",
			 path, err, err_len);
	if (!rc && cfg->sasl_mechanism[0] && strcmp(cfg->sasl_mechanism, "AWS_MSK_IAM") != 0) {
		snprintf(err, err_len,
			 "%s: $.kafka.sasl_mechanism: expected \"AWS_MSK_IAM\" (other "
			 "mechanisms go in properties)",
			 path);
		rc = -1;
	}
	if (!rc)
		rc = str(k, "msk_region", cfg->msk_region, sizeof(cfg->msk_region), "", path, err,
			 err_len);
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(k, "properties");
	if (!rc && props && !cJSON_IsObject(props)) {
		snprintf(err, err_len, "%s: $.kafka.properties: expected an object of strings",
			 path);
		rc = -1;
	}
	if (!rc)
		cfg->kafka_properties = props ? cJSON_Duplicate(props, 1) : cJSON_CreateObject();
	if (!rc)
		rc = str(root, "policy", cfg->policy_path, sizeof(cfg->policy_path), NULL, path,
			 err, err_len);
	if (!rc)
		rc = str(root, "listen", cfg->listen, sizeof(cfg->listen), "127.0.0.1:9464", path,
			 err, err_len);
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "resync_interval_s");
	cfg->resync_interval_s = cJSON_IsNumber(rs) ? rs->valuedouble : 3600;
	const cJSON *rd = cJSON_GetObjectItemCaseSensitive(root, "resync_initial_delay_s");
	cfg->resync_initial_delay_s = cJSON_IsNumber(rd) ? rd->valuedouble : 10;
	const cJSON *mc = cJSON_GetObjectItemCaseSensitive(root, "max_concurrent_reconciles");
	cfg->max_concurrent_reconciles = cJSON_IsNumber(mc) ? (int)mc->valuedouble : 8;
	const cJSON *mq = cJSON_GetObjectItemCaseSensitive(root, "max_queued_vpcs");
	cfg->max_queued_vpcs = cJSON_IsNumber(mq) ? (size_t)mq->valuedouble : 100000;
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(root, "revoke_timeout_s");
	cfg->revoke_timeout_s = cJSON_IsNumber(rt) ? rt->valuedouble : 60;
	const cJSON *wp = cJSON_GetObjectItemCaseSensitive(k, "work_topic_partitions");
	cfg->work_topic_partitions = cJSON_IsNumber(wp) ? (int)wp->valuedouble : 0;
	if (!rc) {
		char def[1024];
		halt_file_default(def, sizeof(def));
		rc = str(root, "halt_file", cfg->halt_file, sizeof(cfg->halt_file), def, path, err,
			 err_len);
	}
	const cJSON *rsi = cJSON_GetObjectItemCaseSensitive(root, "rollout_scan_interval_s");
	cfg->rollout_scan_interval_s = cJSON_IsNumber(rsi) ? rsi->valuedouble : 120;
	if (!rc && cfg->rollout_scan_interval_s < 1) {
		snprintf(err, err_len,
			 "%s: $.rollout_scan_interval_s: expected at least 1 (seconds)", path);
		rc = -1;
	}
	const cJSON *wpol = cJSON_GetObjectItemCaseSensitive(root, "watch_policy");
	cfg->watch_policy = !cJSON_IsFalse(wpol);
	/* a handover must end well inside the group's rebalance timeout (max.poll.interval.ms):
	 * past it the broker removes this member and hands its partitions on regardless */
	const cJSON *mpi = cJSON_GetObjectItemCaseSensitive(props, "max.poll.interval.ms");
	double max_poll_s = cJSON_IsString(mpi) ? strtod(mpi->valuestring, NULL) / 1000 : 300;
	if (!rc && (cfg->revoke_timeout_s < 1 || cfg->revoke_timeout_s > max_poll_s - 30)) {
		snprintf(err, err_len,
			 "%s: $.revoke_timeout_s: expected 1 to %.0f s (30 s under "
			 "max.poll.interval.ms), got %g",
			 path, max_poll_s - 30, cfg->revoke_timeout_s);
		rc = -1;
	}
	if (!rc && (cfg->work_topic_partitions < 0 || cfg->work_topic_partitions > 10000)) {
		snprintf(err, err_len, "%s: $.kafka.work_topic_partitions: expected 0 to 10000",
			 path);
		rc = -1;
	}
	if (!rc && (cfg->resync_interval_s < 10 || cfg->max_concurrent_reconciles < 1)) {
		snprintf(err, err_len,
			 "%s: resync_interval_s must be >= 10 and "
			 "max_concurrent_reconciles >= 1",
			 path);
		rc = -1;
	}
	cJSON_Delete(root);
	if (rc)
		daemon_config_cleanup(cfg);
	return rc;
}

void daemon_config_cleanup(struct daemon_config *cfg)
{
	cJSON_Delete(cfg->kafka_properties);
	cfg->kafka_properties = NULL;
}
