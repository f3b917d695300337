/* report.h - the HTML view of a readiness report (report_html.c).
 * Owns: one self-contained page (inline CSS, inline SVG, a few lines of script for the
 * filter) that answers, in this order: how far are we, what do I do next, where, over time.
 * Not: gathering the report (cmd_report.c builds the JSON this renders). */
#ifndef DS_REPORT_H
#define DS_REPORT_H

#include <cJSON.h>

/* Writes the page for report (the JSON cmd_report builds) to path; 0 or -1. */
int report_write_html(const char *path, const cJSON *report);

#endif
