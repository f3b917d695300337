#include "err.h"

const char *ds_strerror(enum ds_err err)
{
	switch (err) {
	case DS_OK: return "ok";
	case DS_ENOMEM: return "out of memory";
	case DS_EINVAL: return "invalid argument";
	case DS_ETOOBIG: return "too big";
	case DS_EPARSE: return "parse error";
	case DS_EIO: return "i/o error";
	case DS_ECRYPTO: return "crypto error";
	case DS_ECREDS: return "no credentials";
	case DS_ETIMEOUT: return "timed out";
	case DS_ENET: return "network error";
	case DS_EAWS: return "AWS error";
	case DS_ENOTFOUND: return "not found";
	case DS_ECONFLICT: return "conflict";
	}
	return "unknown error";
}

bool ds_err_retryable(enum ds_err err)
{
	return err == DS_ETIMEOUT || err == DS_ENET || err == DS_EIO;
}
