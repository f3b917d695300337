#include "model_json.h"

#include <stdbool.h>
#include <string.h>

static void json_name(const struct xml_field *f, char *out, size_t size)
{
	const char *src = f->json ? f->json : f->name;
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(out, src, n);
	out[n] = '\0';
	if (!f->json && out[0] >= 'a' && out[0] <= 'z')
		out[0] = (char)(out[0] - 32);
}

static void add_strlist(cJSON *obj, const char *name, const char *csv)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, name);
	const char *p = csv;
	while (arr && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char item[256];
		if (n >= sizeof(item))
			n = sizeof(item) - 1;
		memcpy(item, p, n);
		item[n] = '\0';
		cJSON_AddItemToArray(arr, cJSON_CreateString(item));
		p += n;
		if (*p == ',')
			p++;
	}
}

struct vec_view {
	const char *v;
	size_t n, cap;
};

static void emit_fields(const struct xml_schema *schema, const char *base, cJSON *obj)
{
	for (size_t i = 0; i < schema->n_fields; i++) {
		const struct xml_field *f = &schema->fields[i];
		const char *p = base + f->off;
		char name[128];
		bool seen = true;
		if (f->seen_off1)
			memcpy(&seen, base + f->seen_off1 - 1, sizeof(seen));
		if (!seen)
			continue;
		json_name(f, name, sizeof(name));
		switch (f->kind) {
		case XF_STR:
		case XF_STATE:
			if (*p)
				cJSON_AddStringToObject(obj, name, p);
			break;
		case XF_INT: {
			int v;
			memcpy(&v, p, sizeof(v));
			cJSON_AddNumberToObject(obj, name, v);
			break;
		}
		case XF_LONG: {
			long v;
			memcpy(&v, p, sizeof(v));
			cJSON_AddNumberToObject(obj, name, (double)v);
			break;
		}
		case XF_BOOL: {
			bool v;
			memcpy(&v, p, sizeof(v));
			cJSON_AddBoolToObject(obj, name, v);
			break;
		}
		case XF_STRLIST:
			if (*p)
				add_strlist(obj, name, p);
			break;
		case XF_OBJ: {
			cJSON *child = cJSON_CreateObject();
			emit_fields(f->sub, p, child);
			if (child && child->child)
				cJSON_AddItemToObject(obj, name, child);
			else
				cJSON_Delete(child);
			break;
		}
		case XF_FLAT: emit_fields(f->sub, base, obj); break;
		case XF_LIST: {
			struct vec_view vv;
			memcpy(&vv, p, sizeof(vv));
			cJSON *arr = cJSON_AddArrayToObject(obj, name);
			for (size_t k = 0; arr && k < vv.n; k++) {
				cJSON *item = cJSON_CreateObject();
				emit_fields(f->sub, vv.v + k * f->sub->size, item);
				cJSON_AddItemToArray(arr, item);
			}
			break;
		}
		}
	}
}

cJSON *model_json(const struct xml_schema *schema, const void *base)
{
	cJSON *obj = cJSON_CreateObject();
	if (obj)
		emit_fields(schema, base, obj);
	return obj;
}
