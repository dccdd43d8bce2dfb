/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zcam's debugfs counters for the uapi test and the fuzzer.
 */
#ifndef ZCAM_TEST_DEBUGFS_H
#define ZCAM_TEST_DEBUGFS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads "name: value" from @dir/stats (a device's debugfs); -1 if missing. */
static inline long long zt_debugfs_stat(const char *dir, const char *name)
{
	char path[300], line[128];
	long long val = -1;
	size_t len = strlen(name);
	FILE *f;

	snprintf(path, sizeof(path), "%s/stats", dir);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':')
			val = strtoll(line + len + 1, NULL, 10);
	fclose(f);
	return val;
}

#endif /* ZCAM_TEST_DEBUGFS_H */
