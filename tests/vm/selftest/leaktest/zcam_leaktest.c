// SPDX-License-Identifier: GPL-2.0
/*
 * A module that leaks on purpose, for the harness self-test of the kmemleak
 * gate (tests/vm/selftest/harness.sh debug-kmemleak). It leaks 256-byte
 * objects in two ways, so that both kinds of backtrace the gate looks for
 * occur:
 *  - nr_leaks at load, from init code that is freed afterwards (the frames
 *    print as bare addresses, like those of a module unloaded since);
 *  - N objects on each write of N to /sys/module/zcam_leaktest/parameters/leak,
 *    from core text, whose frames name zcam_leaktest.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

static unsigned int nr_leaks = 4;
module_param(nr_leaks, uint, 0444);
MODULE_PARM_DESC(nr_leaks, "number of 256-byte objects to leak at load");

static noinline void zcam_leaktest_leak(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		char *p = kmalloc(256, GFP_KERNEL);

		if (!p)
			return;
		/* A pattern that looks like no pointer; p is then forgotten. */
		memset(p, 0x5a, 256);
		OPTIMIZER_HIDE_VAR(p);
	}
}

static int zcam_leaktest_set_leak(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret = kstrtouint(val, 0, &n);

	if (ret)
		return ret;
	if (n > 1024)
		return -EINVAL;
	zcam_leaktest_leak(n);
	pr_info("zcam_leaktest: leaked %u objects on purpose\n", n);
	return 0;
}

static const struct kernel_param_ops zcam_leaktest_leak_ops = {
	.set = zcam_leaktest_set_leak,
};
module_param_cb(leak, &zcam_leaktest_leak_ops, NULL, 0200);
MODULE_PARM_DESC(leak, "write N to leak N 256-byte objects");

static int __init zcam_leaktest_init(void)
{
	unsigned int i;

	for (i = 0; i < nr_leaks; i++) {
		char *p = kmalloc(256, GFP_KERNEL);

		if (!p)
			break;
		memset(p, 0x5a, 256);
		OPTIMIZER_HIDE_VAR(p);
	}
	pr_info("zcam_leaktest: leaked %u objects on purpose at load\n", nr_leaks);
	return 0;
}

static void __exit zcam_leaktest_exit(void)
{
}

module_init(zcam_leaktest_init);
module_exit(zcam_leaktest_exit);
MODULE_DESCRIPTION("Leaks memory on purpose to test the kmemleak gate");
MODULE_LICENSE("GPL");
