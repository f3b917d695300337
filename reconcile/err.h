/* err.h - the project's one error enum and its classifier.
 * Owns: error codes returned by every module (0 = ok) and their names.
 * Not: AWS error answers, which are classified by ec2_class in ec2_ops.h. */
#ifndef DS_ERR_H
#define DS_ERR_H

#include <stdbool.h>

enum ds_err {
	DS_OK = 0,
	DS_ENOMEM,   /* allocation failed */
	DS_EINVAL,   /* caller passed something malformed (a programming or input error) */
	DS_ETOOBIG,  /* a buffer's hard maximum would be exceeded */
	DS_EPARSE,   /* input could not be decoded */
	DS_EIO,	     /* file or socket error */
	DS_ECRYPTO,  /* OpenSSL refused */
	DS_ECREDS,   /* no usable credentials */
	DS_ETIMEOUT, /* a deadline passed */
	DS_ENET,     /* connection failed or reset */
	DS_EAWS,     /* AWS answered with an error; the call's ec2_class says which */
	DS_ENOTFOUND,
	DS_ECONFLICT, /* desired state cannot be reached without breaking a guardrail */
};

const char *ds_strerror(enum ds_err err);
/* True for errors that may succeed when tried again unchanged. */
bool ds_err_retryable(enum ds_err err);

#endif
