// SPDX-License-Identifier: GPL-2.0-only
/* The runtime every reproducer carries (hvo_verify/reproduce/runtime.c, pasted into
 * each generated program by hvo_verify/reproduce/emit.py, so that the program compiles
 * standalone).  User-space paths to the kernel's HugeTLB pool, hwpoison injection and
 * O_DIRECT, and the observations the model predicts: /proc/meminfo-style pool counts
 * from sysfs, /proc/self/pagemap, /proc/kpageflags, the bytes a read DMAs.
 * Interfaces: Documentation/admin-guide/mm/hugetlbpage.rst (nr_hugepages, free_hugepages
 * under /sys/kernel/mm/hugepages/hugepages-<size>kB/), Documentation/admin-guide/sysctl/vm.rst
 * (hugetlb_optimize_vmemmap), Documentation/admin-guide/mm/pagemap.rst (pagemap,
 * kpageflags: KPF_HWPOISON 19), Documentation/mm/hwpoison.rst (corrupt-pfn,
 * unpoison-pfn), include/uapi/asm-generic/mman-common.h (MADV_HWPOISON 100). */

#define HVO_MADV_HWPOISON 100
#define HVO_MAP_HUGE_SHIFT 26
#define HVO_KPF_HWPOISON 19
#define HVO_PM_PFN_MASK ((1ULL << 55) - 1)
#define HVO_PM_PRESENT (1ULL << 63)
#define HVO_PAGE 4096UL
#define HVO_CANARY 0xA5

enum hvo_kind { POOL_ADD, MMAP, MUNMAP, MADV_HWPOISON_K, CORRUPT_PFN, DIO_READ, SHRINK_POOL, SKIP };

struct hvo_range { long first, count; };

struct hvo_expect {
	int hugepages_total, hugepages_free;
	int n_hwpoison;
	struct hvo_range hwpoison[8];
	int n_dma;
	struct hvo_range dma[4];
	const char *oops; /* non-NULL: the model predicts an oops; not run */
};

struct hvo_step {
	enum hvo_kind kind;
	long a, b; /* optimize | i | offset, length */
	const char *title;
	const char *skip; /* the reason user space cannot do it */
};

struct hvo_kernel { const char *release; const char *preset; const struct hvo_expect *expect; };

static unsigned long hvo_kb;      /* the folio size in KiB */
static unsigned long hvo_nr;      /* subpages */
static char *hvo_map;             /* the user mapping, or NULL */
static long long hvo_head = -1;   /* the folio's head pfn */
static long hvo_start_total;      /* nr_hugepages when the program started */
static long hvo_base_total;       /* ... and folios set aside since (pre-poisoned) */
static long hvo_base_free;        /* free_hugepages likewise */
static int hvo_disk = -1;

static unsigned char hvo_pattern(unsigned long long x)
{ /* the disk's byte at offset x: hvo_verify/conform/guest.py pattern() */
	return (unsigned char)((((x * 31) + (x >> 9) * 7 + 0x5A) ^ (x >> 17)) & 0xFF);
}

static int hvo_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int err = errno;
	close(fd);
	return n < 0 ? -err : 0;
}

static long hvo_read_long(const char *path)
{
	char buf[64] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static long hvo_pool(const char *file)
{
	char path[160];
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%lukB/%s", hvo_kb, file);
	return hvo_read_long(path);
}

static int hvo_set_pool(long n)
{
	char path[160], v[32];
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages", hvo_kb);
	snprintf(v, sizeof(v), "%ld", n);
	int rc = hvo_write(path, v);
	return rc ? rc : (hvo_pool("nr_hugepages") == n ? 0 : -ENOMEM);
}

static long long hvo_pfn(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	uint64_t e = 0;
	ssize_t r = pread(fd, &e, sizeof(e), (off_t)((uintptr_t)addr / HVO_PAGE * sizeof(e)));
	close(fd);
	if (r != (ssize_t)sizeof(e) || !(e & HVO_PM_PRESENT))
		return -1;
	return (long long)(e & HVO_PM_PFN_MASK);
}

static char *hvo_mmap(void)
{
	int shift = hvo_kb == 1048576 ? 30 : 21;
	void *p = mmap(NULL, hvo_kb * 1024, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (shift << HVO_MAP_HUGE_SHIFT), -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	((volatile char *)p)[0] = 1; /* the fault: alloc_hugetlb_folio() */
	return p;
}

/* The pfns that show KPF_HWPOISON before the pool add.  On a kernel where kpageflags
 * reports a hugetlb folio's flags for all its pfns (6.12: fs/proc/page.c), a poisoned
 * pfn inside a new folio is invisible until the folio is freed, so the program looks
 * before it allocates. */
#define HVO_MAX_POISONED 4096
static long long hvo_poisoned[HVO_MAX_POISONED];
static int hvo_npoisoned;

static void hvo_scan_poisoned(void)
{
	static uint64_t buf[4096];
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	ssize_t r;
	hvo_npoisoned = 0;
	for (long long pfn = 0; fd >= 0; pfn += r / 8) {
		r = pread(fd, buf, sizeof(buf), (off_t)(pfn * 8));
		if (r <= 0)
			break;
		for (long long j = 0; j < r / 8 && hvo_npoisoned < HVO_MAX_POISONED; j++)
			if ((buf[j] >> HVO_KPF_HWPOISON) & 1)
				hvo_poisoned[hvo_npoisoned++] = pfn + j;
	}
	if (fd >= 0)
		close(fd);
}

/* The first subpage of the folio that was poisoned before the pool add, or -1. */
static int hvo_first_poisoned(void)
{
	for (int j = 0; j < hvo_npoisoned; j++)
		if (hvo_poisoned[j] >= hvo_head && hvo_poisoned[j] < hvo_head + (long long)hvo_nr)
			return (int)(hvo_poisoned[j] - hvo_head);
	return -1;
}

/* Whether /proc/kpageflags shows KPF_HWPOISON at exactly the predicted subpages. */
static int hvo_check_hwpoison(const struct hvo_expect *e, char *why, size_t cap)
{
	if (hvo_head < 0) {
		snprintf(why, cap, "head pfn unknown");
		return 0;
	}
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, cap, "open /proc/kpageflags: %s", strerror(errno));
		return 0;
	}
	uint64_t flags[512];
	int ok = 1;
	for (unsigned long i = 0; i < hvo_nr && ok; i += 512) {
		unsigned long n = hvo_nr - i < 512 ? hvo_nr - i : 512;
		ssize_t r = pread(fd, flags, n * 8, (off_t)((hvo_head + (long long)i) * 8));
		if (r != (ssize_t)(n * 8)) {
			snprintf(why, cap, "read /proc/kpageflags at pfn %#llx failed", hvo_head + (long long)i);
			ok = 0;
			break;
		}
		for (unsigned long j = 0; j < n; j++) {
			long idx = (long)(i + j);
			int want = 0;
			for (int k = 0; k < e->n_hwpoison; k++)
				want |= idx >= e->hwpoison[k].first && idx < e->hwpoison[k].first + e->hwpoison[k].count;
			int got = (int)((flags[j] >> HVO_KPF_HWPOISON) & 1);
			if (got != want) {
				snprintf(why, cap, "subpage %ld (pfn %#llx): KPF_HWPOISON %d, the model predicts %d", idx,
					 hvo_head + idx, got, want);
				ok = 0;
				break;
			}
		}
	}
	close(fd);
	return ok;
}

static int hvo_check(const struct hvo_expect *e, char *why, size_t cap)
{
	long total = hvo_pool("nr_hugepages") - hvo_base_total, free_ = hvo_pool("free_hugepages") - hvo_base_free;
	if (total != e->hugepages_total || free_ != e->hugepages_free) {
		snprintf(why, cap, "pool: %ld folio(s), %ld free; the model predicts %d, %d", total, free_,
			 e->hugepages_total, e->hugepages_free);
		return 0;
	}
	return hvo_check_hwpoison(e, why, cap);
}

/* An O_DIRECT read of the disk's first `len` bytes into the folio at `off`. */
static int hvo_dio(const struct hvo_expect *e, long off, long len, char *why, size_t cap)
{
	if (!hvo_map) {
		snprintf(why, cap, "no mapping");
		return 0;
	}
	if (hvo_disk < 0)
		hvo_disk = open("/dev/vda", O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (hvo_disk < 0) {
		snprintf(why, cap, "open /dev/vda O_DIRECT: %s", strerror(errno));
		return -1;
	}
	long lo = off >= 4096 ? off - 4096 : 0, hi = off + len + 4096;
	if ((unsigned long)hi > hvo_kb * 1024)
		hi = (long)(hvo_kb * 1024);
	memset(hvo_map + lo, HVO_CANARY, (size_t)(hi - lo));
	ssize_t n = pread(hvo_disk, hvo_map + off, (size_t)len, 0);
	if (n != len) {
		snprintf(why, cap, "pread O_DIRECT %ld bytes at %#lx: %zd (%s)", len, off, n, strerror(errno));
		return 0;
	}
	for (long x = lo; x < hi; x++) {
		int want_written = 0;
		long disk = 0;
		for (int k = 0; k < e->n_dma; k++)
			if (x >= e->dma[k].first && x < e->dma[k].first + e->dma[k].count) {
				want_written = 1;
				disk = x - e->dma[k].first;
			}
		unsigned char want = want_written ? hvo_pattern((unsigned long long)disk) : HVO_CANARY;
		if ((unsigned char)hvo_map[x] != want) {
			snprintf(why, cap, "folio byte %#lx is %#x, the model predicts %#x (%s)", x,
				 (unsigned char)hvo_map[x], want, want_written ? "written by the DMA" : "untouched");
			return 0;
		}
	}
	return 1;
}

/* Every step reported (as skipped): exit with kselftest's skip code without another
 * result line (kselftest.h's skip exit would print one). */
static void hvo_exit_skip(void)
{
	fflush(stdout);
	exit(KSFT_SKIP);
}

/* Run one step: 1 pass, 0 fail, -1 skip (why says why). */
static int hvo_run(const struct hvo_step *s, const struct hvo_expect *e, char *why, size_t cap)
{
	char v[32];
	int rc;
	if (s->skip) {
		snprintf(why, cap, "%s", s->skip);
		return -1;
	}
	if (e->oops) {
		snprintf(why, cap, "the model predicts an oops: %s", e->oops);
		return -1;
	}
	switch (s->kind) {
	case POOL_ADD:
		if (hvo_write("/proc/sys/vm/hugetlb_optimize_vmemmap", s->a ? "1" : "0") && s->a) {
			snprintf(why, cap, "vm.hugetlb_optimize_vmemmap cannot be set");
			return -1;
		}
		hvo_scan_poisoned();
		for (int tries = 0;; tries++) {
			if (hvo_set_pool(hvo_base_total + 1)) {
				snprintf(why, cap, "no %lu kB folio could be added to the pool", hvo_kb);
				return -1;
			}
			hvo_map = hvo_mmap(); /* learn the head pfn, then give the folio back */
			hvo_head = hvo_map ? hvo_pfn(hvo_map) : -1;
			if (hvo_map)
				munmap(hvo_map, hvo_kb * 1024);
			hvo_map = NULL;
			if (hvo_head < 0 || (rc = hvo_first_poisoned()) < 0)
				break;
			/* A pfn poisoned before this program: a stale head copy that an earlier one left
			 * in free memory (Debian 6.12.115+, docs/debian-fixes.md).  Keep that folio in
			 * the pool (the counts are relative to it) and take another. */
			ksft_print_msg("folio at pfn %#llx holds pfn %#llx, poisoned before this program: taking another\n",
				       hvo_head, hvo_head + rc);
			hvo_base_total++;
			hvo_base_free++;
			if (tries == 7) {
				snprintf(why, cap, "eight folios in a row hold a pfn poisoned before this program");
				return -1;
			}
		}
		break;
	case MMAP:
		hvo_map = hvo_mmap();
		if (!hvo_map) {
			snprintf(why, cap, "mmap(MAP_HUGETLB): %s", strerror(errno));
			return 0;
		}
		if (hvo_pfn(hvo_map) != hvo_head) {
			snprintf(why, cap, "the mapping got pfn %#llx, not the pool's folio %#llx", hvo_pfn(hvo_map), hvo_head);
			return 0;
		}
		break;
	case MUNMAP:
		munmap(hvo_map, hvo_kb * 1024);
		hvo_map = NULL;
		break;
	case MADV_HWPOISON_K:
		rc = madvise(hvo_map + s->a * HVO_PAGE, HVO_PAGE, HVO_MADV_HWPOISON);
		if (rc) {
			snprintf(why, cap, "madvise(MADV_HWPOISON): %s", strerror(errno));
			return errno == EPERM || errno == EINVAL ? -1 : 0;
		}
		munmap(hvo_map, hvo_kb * 1024); /* the process lets go of the poisoned mapping */
		hvo_map = NULL;
		break;
	case CORRUPT_PFN:
		snprintf(v, sizeof(v), "%lld", hvo_head + s->a);
		rc = hvo_write("/sys/kernel/debug/hwpoison/corrupt-pfn", v);
		if (rc == -ENOENT) {
			snprintf(why, cap, "no /sys/kernel/debug/hwpoison/corrupt-pfn (CONFIG_HWPOISON_INJECT, debugfs)");
			return -1;
		}
		break;
	case DIO_READ:
		rc = hvo_dio(e, s->a, s->b, why, cap);
		if (rc <= 0)
			return rc;
		break;
	case SHRINK_POOL:
		if (hvo_set_pool(hvo_base_total)) {
			snprintf(why, cap, "nr_hugepages could not shrink");
			return 0;
		}
		break;
	case SKIP:
		break;
	}
	return hvo_check(e, why, cap);
}

/* Leave the guest as we found it: unmap, shrink the pool, unpoison what we poisoned.
 * A pfn that still shows KPF_HUGE once the folio is freed is a stale byte copy of the
 * head (Debian 6.12.115+: the restore copies the head copy into every tail vmemmap page,
 * docs/debian-fixes.md); unpoison_memory() takes it for a hugetlb folio and frees its
 * raw_hwp list a second time (kernel BUG at mm/slub.c:550 on 6.12.117), so it is left
 * poisoned and named. */
static void hvo_cleanup(void)
{
	if (hvo_map)
		munmap(hvo_map, hvo_kb * 1024);
	hvo_set_pool(hvo_start_total);
	int fd = hvo_head >= 0 ? open("/proc/kpageflags", O_RDONLY | O_CLOEXEC) : -1;
	for (unsigned long i = 0; fd >= 0 && i < hvo_nr; i++) {
		uint64_t f = 0;
		char v[32];
		if (pread(fd, &f, sizeof(f), (off_t)((hvo_head + (long long)i) * 8)) != (ssize_t)sizeof(f))
			break;
		if (!((f >> HVO_KPF_HWPOISON) & 1))
			continue;
		if ((f >> 17) & 1) { /* KPF_HUGE */
			ksft_print_msg("left poisoned: pfn %#llx shows KPF_HUGE in free memory\n", hvo_head + (long long)i);
			continue;
		}
		snprintf(v, sizeof(v), "%lld", hvo_head + (long long)i);
		hvo_write("/sys/kernel/debug/hwpoison/unpoison-pfn", v);
	}
	if (fd >= 0)
		close(fd);
	if (hvo_disk >= 0)
		close(hvo_disk);
}

static int hvo_main(const char *name, unsigned long kb, const struct hvo_step *steps, int n,
		    const struct hvo_kernel *kernels, int nk)
{
	struct utsname u;
	char why[256];
	const struct hvo_kernel *k = NULL;
	setvbuf(stdout, NULL, _IOLBF, 0); /* a crash keeps the lines before it */
	hvo_kb = kb;
	hvo_nr = kb / 4;
	ksft_print_header();
	ksft_set_plan((unsigned int)n);
	uname(&u);
	const char *release = getenv("HVO_REPRODUCER_RELEASE"); /* tests: pretend another kernel */
	if (!release)
		release = u.release;
	for (int j = 0; j < nk; j++)
		if (!strcmp(kernels[j].release, release))
			k = &kernels[j];
	ksft_print_msg("%s on %s\n", name, release);
	if (!k) {
		for (int j = 0; j < n; j++)
			ksft_test_result_skip("%s: no prediction for kernel %s (regenerate with hvo-verify reproduce)\n",
					      steps[j].title, release);
		hvo_exit_skip();
	}
	ksft_print_msg("predictions of the model's %s preset\n", k->preset);
	hvo_start_total = hvo_base_total = hvo_pool("nr_hugepages");
	hvo_base_free = hvo_pool("free_hugepages");
	if (hvo_base_total < 0) {
		for (int j = 0; j < n; j++)
			ksft_test_result_skip("%s: no %lu kB HugeTLB pool\n", steps[j].title, kb);
		hvo_exit_skip();
	}
	int stopped = 0, passed = 0, failed = 0;
	for (int j = 0; j < n; j++) {
		if (stopped) {
			ksft_test_result_skip("%s: follows a step that did not run\n", steps[j].title);
			continue;
		}
		why[0] = 0;
		int r = hvo_run(&steps[j], &k->expect[j], why, sizeof(why));
		if (r > 0)
			ksft_test_result_pass("%s\n", steps[j].title);
		else if (r == 0)
			ksft_test_result_fail("%s: %s\n", steps[j].title, why);
		else
			ksft_test_result_skip("%s: %s\n", steps[j].title, why);
		passed += r > 0;
		failed += r == 0;
		stopped = r <= 0;
	}
	hvo_cleanup();
	if (failed)
		ksft_exit_fail();
	if (!passed)
		hvo_exit_skip();
	ksft_exit_pass();
	return 0;
}
