// SPDX-License-Identifier: GPL-2.0
/*
 * A module that leaks on purpose, for the harness self-test of the kmemleak
 * gate (tests/vm/selftest/harness.sh kmemleak-gate): at load it allocates a
 * few objects and forgets them. Its name starts with "zcam" so that the
 * allocations' backtraces look like those of code under test.
 */
#include <linux/module.h>
#include <linux/slab.h>

static unsigned int nr_leaks = 4;
module_param(nr_leaks, uint, 0444);
MODULE_PARM_DESC(nr_leaks, "number of 256-byte objects to leak at load");

static noinline void zcam_leaktest_leak_one(unsigned int i)
{
	char *p = kmalloc(256, GFP_KERNEL);

	if (p)
		memset(p, 0x5a ^ i, 256);
	/* p goes out of scope: nothing refers to the object any more. */
}

static int __init zcam_leaktest_init(void)
{
	unsigned int i;

	for (i = 0; i < nr_leaks; i++)
		zcam_leaktest_leak_one(i);
	pr_info("zcam_leaktest: leaked %u objects on purpose\n", nr_leaks);
	return 0;
}

static void __exit zcam_leaktest_exit(void)
{
}

module_init(zcam_leaktest_init);
module_exit(zcam_leaktest_exit);
MODULE_DESCRIPTION("Leaks memory on purpose to test the kmemleak gate");
MODULE_LICENSE("GPL");
