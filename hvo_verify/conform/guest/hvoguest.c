// SPDX-License-Identifier: GPL-2.0-only
/*
 * hvoguest: the guest side of `hvo-verify conform`.
 *
 * Runs as root inside a throw-away QEMU guest (started from /init) and exercises
 * HugeTLB pages the way the model predicts them: pool savings, /proc/kpageflags of a
 * mapped folio, memory-failure injection into in-use and free folios, O_DIRECT reads into
 * a hugetlb buffer, and the hugetlb_optimize_vmemmap sysctl.  Every result is printed on
 * stdout (the serial console) as one line `@@HVO {json}`, written with a single write(),
 * compact ASCII JSON.  Square brackets inside JSON strings are escaped (\u005b, \u005d)
 * so a kernel console line "[   12.345678] ..." can never be confused with record text.
 *
 * Options come from the kernel command line (hvoguest.KEY=VALUE) or from argv (KEY=VALUE):
 *   scenarios=savings,kpageflags,hwpoison,dma,hwpoison2,sysctl,perfolio   (the order they run in;
 *   sysctl and perfolio write vm.hugetlb_optimize_vmemmap=1 and so optimize folios in the
 *   HVO-off boot too: by default they run last, see scenario_sysctl())
 *   n2m=100  n1g=1 (0: no 1 GiB step at all)  nfolio=32  subpages=0,1,64,65,511
 *   free_subpages=0,1,64,65,511  disk=/dev/vda
 *
 * Build: gcc -static -O2 -o hvoguest hvoguest.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* include/uapi/linux/kernel-page-flags.h (bit numbers in /proc/kpageflags entries). */
#define KPF_BUDDY 10
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_HUGE 17
#define KPF_HWPOISON 19
#define KPF_NOPAGE 20

/* Documentation/admin-guide/mm/pagemap.rst: bits 0-54 PFN, bit 63 page present. */
#define PM_PFN_MASK ((1ULL << 55) - 1)
#define PM_PRESENT (1ULL << 63)

/* include/uapi/asm-generic/mman-common.h: MADV_HWPOISON 100;
 * include/uapi/asm-generic/hugetlb_encode.h: MAP_HUGE_SHIFT 26, log2(size) above it. */
#define HVO_MADV_HWPOISON 100
#define HVO_MAP_HUGE_SHIFT 26
#define HVO_MAP_HUGE_2MB (21 << HVO_MAP_HUGE_SHIFT)
#define HVO_MAP_HUGE_1GB (30 << HVO_MAP_HUGE_SHIFT)

#define PAGE_SZ 4096UL
#define SZ_2M (2UL << 20)
#define SZ_1G (1UL << 30)
#define KB_2M 2048UL
#define KB_1G 1048576UL
#define CANARY 0xA5

/* ------------------------------------------------------------------ utilities */

static void die_oom(void)
{
	static const char msg[] = "@@HVO {\"kind\":\"error\",\"scenario\":\"main\",\"message\":\"out of memory\"}\n";
	ssize_t r = write(1, msg, sizeof(msg) - 1);
	(void)r;
	_exit(1);
}

/* The disk pattern: byte at disk offset x.  Must equal guest.py's pattern(). */
static unsigned char pattern(uint64_t x)
{
	return (unsigned char)(((x * 31) + (x >> 9) * 7 + 0x5a) ^ (x >> 17));
}

struct sb {
	char *p;
	size_t n, cap;
};

static void sb_reserve(struct sb *b, size_t extra)
{
	if (b->n + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->n + extra + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		die_oom();
	b->p = p;
	b->cap = cap;
}

static void sb_putc(struct sb *b, char c)
{
	sb_reserve(b, 1);
	b->p[b->n++] = c;
	b->p[b->n] = 0;
}

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	sb_reserve(b, (size_t)len);
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)len;
}

/* ------------------------------------------------------------ JSON writer */

#define JW_DEPTH 32
struct jw {
	struct sb b;
	int depth;
	int count[JW_DEPTH];
};

static void jw_reset(struct jw *w)
{
	w->b.n = 0;
	if (w->b.p)
		w->b.p[0] = 0;
	w->depth = 0;
	w->count[0] = 0;
}

static void jw_rawstr(struct sb *b, const char *s)
{
	sb_putc(b, '"');
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			sb_putc(b, '\\');
			sb_putc(b, (char)*c);
		} else if (*c < 0x20 || *c >= 0x7f || *c == '[' || *c == ']') {
			sb_printf(b, "\\u%04x", *c);
		} else {
			sb_putc(b, (char)*c);
		}
	}
	sb_putc(b, '"');
}

static void jw_sep(struct jw *w, const char *key)
{
	if (w->count[w->depth]++)
		sb_putc(&w->b, ',');
	if (key) {
		jw_rawstr(&w->b, key);
		sb_putc(&w->b, ':');
	}
}

static void jw_open(struct jw *w, const char *key, char c)
{
	jw_sep(w, key);
	sb_putc(&w->b, c);
	if (w->depth + 1 < JW_DEPTH)
		w->depth++;
	w->count[w->depth] = 0;
}

static void jw_obj(struct jw *w, const char *key) { jw_open(w, key, '{'); }
static void jw_arr(struct jw *w, const char *key) { jw_open(w, key, '['); }

static void jw_close(struct jw *w, char c)
{
	sb_putc(&w->b, c);
	if (w->depth > 0)
		w->depth--;
}

static void jw_end_obj(struct jw *w) { jw_close(w, '}'); }
static void jw_end_arr(struct jw *w) { jw_close(w, ']'); }

static void jw_int(struct jw *w, const char *key, long long v)
{
	jw_sep(w, key);
	sb_printf(&w->b, "%lld", v);
}

static void jw_uint(struct jw *w, const char *key, unsigned long long v)
{
	jw_sep(w, key);
	sb_printf(&w->b, "%llu", v);
}

static void jw_str(struct jw *w, const char *key, const char *s)
{
	jw_sep(w, key);
	jw_rawstr(&w->b, s);
}

static void jw_null(struct jw *w, const char *key)
{
	jw_sep(w, key);
	sb_printf(&w->b, "null");
}

static void jw_double(struct jw *w, const char *key, double v)
{
	jw_sep(w, key);
	sb_printf(&w->b, "%.2f", v);
}

/* Integer or null when v is the "unknown" marker. */
#define UNKNOWN (-(1LL << 62))
static void jw_maybe(struct jw *w, const char *key, long long v)
{
	if (v == UNKNOWN)
		jw_null(w, key);
	else
		jw_int(w, key, v);
}

/* One record = one line = one write() (looped only on a short write). */
static void emit(struct jw *w)
{
	struct sb line = {0};
	sb_reserve(&line, w->b.n + 8);
	sb_printf(&line, "@@HVO %s\n", w->b.p ? w->b.p : "{}");
	size_t off = 0;
	while (off < line.n) {
		ssize_t r = write(1, line.p + off, line.n - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	free(line.p);
	jw_reset(w);
}

static void emit_error(const char *scenario, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit_error(const char *scenario, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "kind", "error");
	jw_str(&w, "scenario", scenario);
	jw_str(&w, "message", msg);
	jw_end_obj(&w);
	emit(&w);
	free(w.b.p);
}

/* ------------------------------------------------------------ files */

/* Whole (small) file into buf, NUL-terminated; length or -errno. */
static long read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	close(fd);
	return (long)n;
}

static long long read_ll(const char *path)
{
	char buf[64];
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return UNKNOWN;
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno || end == buf)
		return UNKNOWN;
	return v;
}

/* 0 or -errno: the kernel's answer to write(2). */
static int write_text(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(s);
	ssize_t r = write(fd, s, len);
	int rc = r < 0 ? -errno : ((size_t)r == len ? 0 : -EIO);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* ------------------------------------------------------------ kernel state */

/* The /proc/meminfo fields we report, then "PcpFree": kB sitting on the per-cpu free
 * lists (sum of the "count:" lines of /proc/zoneinfo, times 4 kB).  MemFree does not count
 * those pages, and order-0 (freed vmemmap) and order-9 (THP-sized, so also 2 MiB hugetlb)
 * frees land there first; MemFree + PcpFree is the free memory that does not drift. */
#define MI_N 15
static const char *const MI_KEYS[MI_N] = {"MemTotal",     "MemFree",      "HugePages_Total",   "HugePages_Free",
					  "Hugepagesize", "HardwareCorrupted", "PcpFree",        "Slab",
					  "KernelStack",  "PageTables",   "Percpu",            "AnonPages",      "VmallocUsed",
					  "Buffers",      "Cached"};
/* Indices past PcpFree: the kernel's other consumers of free memory (slab, kernel stacks,
 * page tables, per-cpu chunks, our own anonymous pages, vmalloc, the page cache: the
 * virtio disk's partition scan reads into it while the first scenario runs), whose changes the
 * model's memory rows count out: a kmalloc() that needs a new slab page moves MemFree
 * as much as a vmemmap frame does. */
#define MI_OTHER_FIRST 7
struct meminfo {
	long long v[MI_N];
};

/* MemFree is NR_FREE_PAGES as folded into the global counter: each cpu keeps a delta of
 * up to its stat threshold (tens of pages) in vm_stat_diff until vmstat_update() folds
 * it, about once a second (mm/vmstat.c v6.1/v6.12).  A write to
 * /proc/sys/vm/stat_refresh folds every cpu's delta at once (vmstat_refresh() ->
 * schedule_on_each_cpu(refresh_vm_stats)), so two readings differ only by what the
 * kernel allocated or freed between them. */
static void stat_refresh(void)
{
	(void)write_text("/proc/sys/vm/stat_refresh", "1");
}

static struct meminfo read_meminfo_once(void)
{
	struct meminfo m;
	for (int i = 0; i < MI_N; i++)
		m.v[i] = UNKNOWN;
	stat_refresh();
	static char buf[16384];
	if (read_text("/proc/meminfo", buf, sizeof(buf)) <= 0)
		return m;
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		char *colon = strchr(line, ':');
		if (colon) {
			*colon = 0;
			for (int i = 0; i < MI_N; i++)
				if (!strcmp(line, MI_KEYS[i]))
					m.v[i] = strtoll(colon + 1, NULL, 10);
		}
		line = nl ? nl + 1 : NULL;
	}
	static char zi[65536];
	if (read_text("/proc/zoneinfo", zi, sizeof(zi)) > 0) {
		long long pages = 0;
		for (char *c = strstr(zi, " count:"); c; c = strstr(c + 7, " count:"))
			pages += strtoll(c + 7, NULL, 10);
		m.v[6] = pages * (long long)(PAGE_SZ / 1024);
	}
	return m;
}

/* MemFree comes from /proc/meminfo and PcpFree from /proc/zoneinfo, read one after the
 * other: pages the vmstat worker moves from the per-cpu lists to the buddy lists in
 * between (6.12 refresh_cpu_vm_stats() -> decay_pcp_high(), every second) would be in
 * neither.  A reading counts only when the next one shows the same free memory. */
static struct meminfo read_meminfo(void)
{
	struct meminfo a = read_meminfo_once();
	for (int i = 0; i < 10; i++) {
		struct meminfo b = read_meminfo_once();
		if (a.v[1] + a.v[6] == b.v[1] + b.v[6] && a.v[0] == b.v[0])
			return b;
		a = b;
	}
	return a;
}

/* Waits (at most 2 s) until free memory (MemFree + PcpFree) reads the same twice 50 ms
 * apart: what an earlier scenario left to be freed asynchronously (an io_uring ring is
 * torn down from a workqueue, io_ring_exit_work()) must not land inside a step's two
 * readings.  Returns the number of 50 ms waits. */
static int settle(void)
{
	struct meminfo a = read_meminfo();
	for (int i = 1; i <= 40; i++) {
		usleep(50000);
		struct meminfo b = read_meminfo();
		if (a.v[1] + a.v[6] == b.v[1] + b.v[6] && a.v[0] == b.v[0] && a.v[7] == b.v[7])
			return i;
		a = b;
	}
	return -1;
}

static void jw_meminfo(struct jw *w, const char *key, const struct meminfo *m)
{
	jw_obj(w, key);
	for (int i = 0; i < MI_N; i++)
		jw_maybe(w, MI_KEYS[i], m->v[i]);
	jw_end_obj(w);
}

static void hp_path(char *out, size_t cap, unsigned long kb, const char *file)
{
	snprintf(out, cap, "/sys/kernel/mm/hugepages/hugepages-%lukB/%s", kb, file);
}

static int hp_exists(unsigned long kb)
{
	char p[128];
	hp_path(p, sizeof(p), kb, "nr_hugepages");
	return access(p, F_OK) == 0;
}

static long long hp_read(unsigned long kb, const char *file)
{
	char p[128];
	hp_path(p, sizeof(p), kb, file);
	return read_ll(p);
}

/* Writes nr_hugepages; returns 0 or -errno (the resulting count is read separately). */
static int hp_set(unsigned long kb, long n)
{
	char p[128], v[32];
	hp_path(p, sizeof(p), kb, "nr_hugepages");
	snprintf(v, sizeof(v), "%ld", n);
	return write_text(p, v);
}

/* The pool counters and HardwareCorrupted, read at one moment. */
struct pool_snap {
	long long total, free, surplus, corrupted;
};

static struct pool_snap read_pool(unsigned long kb)
{
	struct meminfo m = read_meminfo();
	struct pool_snap s = {hp_read(kb, "nr_hugepages"), hp_read(kb, "free_hugepages"),
			      hp_read(kb, "surplus_hugepages"), m.v[5]};
	return s;
}

static void jw_pool_snap(struct jw *w, const char *key, struct pool_snap s)
{
	jw_obj(w, key);
	jw_maybe(w, "total", s.total);
	jw_maybe(w, "free", s.free);
	jw_maybe(w, "surplus", s.surplus);
	jw_maybe(w, "HardwareCorrupted", s.corrupted);
	jw_end_obj(w);
}

static void jw_pool(struct jw *w, const char *key, unsigned long kb)
{
	jw_pool_snap(w, key, read_pool(kb));
}

/* PFN behind a virtual address of ours, or -1 (not present) / -errno. */
static long long vaddr_pfn(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint64_t e = 0;
	off_t off = (off_t)((uintptr_t)addr / PAGE_SZ * sizeof(uint64_t));
	ssize_t r = pread(fd, &e, sizeof(e), off);
	int err = errno;
	close(fd);
	if (r != (ssize_t)sizeof(e))
		return r < 0 ? -err : -EIO;
	if (!(e & PM_PRESENT))
		return -1;
	return (long long)(e & PM_PFN_MASK);
}

/* RLE of /proc/kpageflags over [pfn, pfn + nr): [[first_index, count, flags], ...].
 * Writes null and returns -errno when the file cannot be read. */
static int jw_rle(struct jw *w, const char *key, uint64_t pfn, uint64_t nr)
{
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		jw_null(w, key);
		return -e;
	}
	enum { CHUNK = 4096 };
	static uint64_t buf[CHUNK];
	uint64_t run_first = 0, run_count = 0, run_flags = 0;
	int rc = 0;
	jw_arr(w, key);
	for (uint64_t done = 0; done < nr;) {
		uint64_t want = nr - done < CHUNK ? nr - done : CHUNK;
		ssize_t r = pread(fd, buf, want * sizeof(uint64_t), (off_t)((pfn + done) * sizeof(uint64_t)));
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			break;
		}
		uint64_t got = (uint64_t)r / sizeof(uint64_t);
		for (uint64_t i = 0; i < got; i++) {
			if (run_count && buf[i] == run_flags) {
				run_count++;
				continue;
			}
			if (run_count) {
				jw_arr(w, NULL);
				jw_uint(w, NULL, run_first);
				jw_uint(w, NULL, run_count);
				jw_uint(w, NULL, run_flags);
				jw_end_arr(w);
			}
			run_first = done + i;
			run_count = 1;
			run_flags = buf[i];
		}
		done += got;
	}
	if (run_count) {
		jw_arr(w, NULL);
		jw_uint(w, NULL, run_first);
		jw_uint(w, NULL, run_count);
		jw_uint(w, NULL, run_flags);
		jw_end_arr(w);
	}
	jw_end_arr(w);
	close(fd);
	return rc;
}

/* The head pfns of every hugetlb folio (KPF_HUGE and KPF_COMPOUND_HEAD in /proc/kpageflags,
 * read over all of RAM): where the pool's folios are, so the model knows whose vmemmap
 * is still the boot-time (PageReserved) one and which vmemmap PMDs are already split.
 * Written as "heads": [pfn, ...]; null when /proc/kpageflags cannot be read. */
#define MAX_HEADS 4096
static uint64_t heads[MAX_HEADS];
static size_t nheads;
static int heads_ok;

/* Fills heads[] (static, so a scan between two meminfo readings faults in no page of
 * ours once main() has run it); jw_heads() writes them. */
static void scan_heads(void)
{
	nheads = 0;
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	heads_ok = fd >= 0;
	if (fd < 0)
		return;
	/* A hugetlb folio of 2 MiB or more starts at a 512-aligned pfn: one 8-byte read per
	 * 2 MiB (every pfn would be ~0.3 s under TCG, ~70 scans a boot). */
	const uint64_t want = (1ULL << KPF_HUGE) | (1ULL << KPF_COMPOUND_HEAD);
	for (uint64_t pfn = 0;; pfn += SZ_2M / PAGE_SZ) {
		uint64_t e = 0;
		if (pread(fd, &e, sizeof(e), (off_t)(pfn * sizeof(uint64_t))) != (ssize_t)sizeof(e))
			break;
		if ((e & want) == want && !(e & (1ULL << KPF_NOPAGE)) && nheads < MAX_HEADS)
			heads[nheads++] = pfn;
	}
	close(fd);
}

/* For the message of a failed 1 GiB allocation: how many pfns 64*m read KPF_HUGE without
 * belonging to a compound page (no HEAD, no TAIL) -- the head copies a 6.12.115+ restore
 * leaves, whose PGTY_hugetlb makes pfn_range_valid_contig() refuse their 1 GiB range --
 * and a bit mask of the 1 GiB ranges they are in (bit i: [i GiB, i+1 GiB)). */
static long count_stale_huge(unsigned long *gib_mask)
{
	long n = 0;
	*gib_mask = 0;
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	const uint64_t compound = (1ULL << KPF_COMPOUND_HEAD) | (1ULL << KPF_COMPOUND_TAIL);
	for (uint64_t pfn = 0;; pfn += 64) {
		uint64_t e = 0;
		if (pread(fd, &e, sizeof(e), (off_t)(pfn * sizeof(uint64_t))) != (ssize_t)sizeof(e))
			break;
		if ((e >> KPF_HUGE & 1) && !(e & compound) && !(e >> KPF_NOPAGE & 1)) {
			n++;
			if (pfn / (SZ_1G / PAGE_SZ) < 8 * sizeof(*gib_mask))
				*gib_mask |= 1UL << (pfn / (SZ_1G / PAGE_SZ));
		}
	}
	close(fd);
	return n;
}

static void jw_heads(struct jw *w, const char *key)
{
	if (!heads_ok) {
		jw_null(w, key);
		return;
	}
	jw_arr(w, key);
	for (size_t i = 0; i < nheads; i++)
		jw_uint(w, NULL, heads[i]);
	jw_end_arr(w);
}

/* /dev/kmsg reader: kmsg_open() remembers "now"; kmsg_new() lists messages since. */
static int kmsg_fd = -1;

static void kmsg_open(int from_start)
{
	if (kmsg_fd >= 0)
		close(kmsg_fd);
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0 && !from_start)
		lseek(kmsg_fd, 0, SEEK_END);
}

/* Messages (text after "prefix;", first line) read since kmsg_open; filtered by a
 * case-insensitive substring when `needle` is set. Falls back to klogctl when needed. */
static void jw_kmsg(struct jw *w, const char *key, const char *needle)
{
	static char rec[8192];
	jw_arr(w, key);
	if (kmsg_fd >= 0) {
		for (;;) {
			ssize_t r = read(kmsg_fd, rec, sizeof(rec) - 1);
			if (r < 0 && errno == EPIPE)
				continue; /* overwritten records: skip ahead */
			if (r <= 0)
				break;
			rec[r] = 0;
			char *text = strchr(rec, ';');
			text = text ? text + 1 : rec;
			char *nl = strchr(text, '\n');
			if (nl)
				*nl = 0;
			if (!needle || strcasestr(text, needle))
				jw_str(w, NULL, text);
		}
	} else {
		/* klogctl(SYSLOG_ACTION_SIZE_BUFFER = 10), then (SYSLOG_ACTION_READ_ALL = 3). */
		int size = klogctl(10, NULL, 0);
		char *all = size > 0 ? malloc((size_t)size + 1) : NULL;
		int n = all ? klogctl(3, all, size) : -1;
		if (n > 0) {
			all[n] = 0;
			for (char *line = all; line && *line;) {
				char *nl = strchr(line, '\n');
				if (nl)
					*nl = 0;
				if (!needle || strcasestr(line, needle))
					jw_str(w, NULL, line);
				line = nl ? nl + 1 : NULL;
			}
		}
		free(all);
	}
	jw_end_arr(w);
}

/* ------------------------------------------------------------ faults */

static sigjmp_buf probe_env, scen_env;
static volatile sig_atomic_t probe_armed, scen_armed;

static void on_fault(int sig)
{
	if (probe_armed) {
		probe_armed = 0;
		siglongjmp(probe_env, sig);
	}
	if (scen_armed) {
		scen_armed = 0;
		siglongjmp(scen_env, sig);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one byte; 0 when it could be read, else the signal number (SIGBUS). */
static int probe_read(const volatile char *p)
{
	int sig = sigsetjmp(probe_env, 1);
	if (sig)
		return sig;
	probe_armed = 1;
	(void)*p;
	probe_armed = 0;
	return 0;
}

/* ------------------------------------------------------------ options */

static char cmdline[4096];

struct opts {
	char scenarios[256];
	long n2m, n1g, nfolio;
	int subpages[64], nsub;
	int free_subpages[64], nfree;
	char disk[128];
};

static int parse_list(const char *s, int *out, int max)
{
	int n = 0;
	while (*s && n < max) {
		char *end;
		long v = strtol(s, &end, 0);
		if (end == s)
			break;
		out[n++] = (int)v;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

static void set_opt(struct opts *o, const char *k, const char *v)
{
	if (!strcmp(k, "scenarios"))
		snprintf(o->scenarios, sizeof(o->scenarios), "%s", v);
	else if (!strcmp(k, "n2m"))
		o->n2m = strtol(v, NULL, 0);
	else if (!strcmp(k, "n1g"))
		o->n1g = strtol(v, NULL, 0);
	else if (!strcmp(k, "nfolio"))
		o->nfolio = strtol(v, NULL, 0);
	else if (!strcmp(k, "subpages"))
		o->nsub = parse_list(v, o->subpages, 64);
	else if (!strcmp(k, "free_subpages"))
		o->nfree = parse_list(v, o->free_subpages, 64);
	else if (!strcmp(k, "disk"))
		snprintf(o->disk, sizeof(o->disk), "%s", v);
}

static void parse_kv(struct opts *o, char *tok)
{
	char *eq = strchr(tok, '=');
	if (!eq)
		return;
	*eq = 0;
	set_opt(o, tok, eq + 1);
	*eq = '=';
}

static void load_opts(struct opts *o, int argc, char **argv)
{
	static const int dflt[] = {0, 1, 64, 65, 511};
	memset(o, 0, sizeof(*o));
	snprintf(o->scenarios, sizeof(o->scenarios), "savings,kpageflags,hwpoison,dma,hwpoison2,sysctl,perfolio");
	o->n2m = 100;
	o->nfolio = 32;
	o->n1g = 1;
	o->nsub = o->nfree = 5;
	memcpy(o->subpages, dflt, sizeof(dflt));
	memcpy(o->free_subpages, dflt, sizeof(dflt));
	snprintf(o->disk, sizeof(o->disk), "/dev/vda");

	if (read_text("/proc/cmdline", cmdline, sizeof(cmdline)) > 0) {
		char *nl = strchr(cmdline, '\n');
		if (nl)
			*nl = 0;
		char copy[sizeof(cmdline)];
		snprintf(copy, sizeof(copy), "%s", cmdline);
		char *save = NULL;
		for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
			if (!strncmp(t, "hvoguest.", 9))
				parse_kv(o, t + 9);
	}
	for (int i = 1; i < argc; i++)
		parse_kv(o, argv[i]);
}

/* ------------------------------------------------------------ hugetlb mappings */

static void *map_huge(unsigned long kb)
{
	size_t len = kb * 1024UL;
	int huge = kb == KB_1G ? HVO_MAP_HUGE_1GB : HVO_MAP_HUGE_2MB;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | huge, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Faults the folio in (one write at its start), returns its head pfn or a negative value. */
static long long touch_head_pfn(void *p)
{
	*(volatile char *)p = 1;
	return vaddr_pfn(p);
}

/* ------------------------------------------------------------ scenarios */

static void scenario_boot(void)
{
	struct utsname u;
	struct jw w = {0};
	uname(&u);
	struct meminfo m = read_meminfo();
	jw_obj(&w, NULL);
	jw_str(&w, "kind", "boot");
	jw_str(&w, "release", u.release);
	jw_str(&w, "version", u.version);
	jw_str(&w, "cmdline", cmdline);
	jw_maybe(&w, "hvo_sysctl", read_ll("/proc/sys/vm/hugetlb_optimize_vmemmap"));
	jw_meminfo(&w, "meminfo", &m);
	kmsg_open(1);
	jw_kmsg(&w, "dmesg_vmemmap", "vmemmap");
	jw_end_obj(&w);
	emit(&w);
	free(w.b.p);
}

/* The 1 GiB kpageflags reading is taken from the savings step's folio (kpf_1g_in_savings,
 * set when both scenarios run): one 1 GiB allocation per boot, not two.  On Debian
 * 6.12.115+ a restored (HVO on) folio leaves a copy of its head struct page, page_type
 * PGTY_hugetlb included, at every 64th pfn (mm/hugetlb_vmemmap.c vmemmap_restore_pte(),
 * no reset_struct_pages()); freeing it to the buddy allocator clears those pages' flags
 * but not their page_type (mm/page_alloc.c free_pages_prepare(), free_tail_page_prepare()
 * with check_pages off: init_on_alloc=0), so PageHuge() stays true on free pages and
 * alloc_contig_pages() -> pfn_range_valid_contig() refuses every 1 GiB range the restored
 * folio was in.  A 3 GiB guest has one 1 GiB range free of boot allocations: a second
 * 1 GiB allocation in the HVO-on boot failed. */
static int kpf_1g_in_savings, kpf_1g_done;
static struct jw kpf_w;
static void kpageflags_mapped(struct jw *w, unsigned long kb, const char *pool);

static void savings_one(struct jw *w, unsigned long kb, long n)
{
	int with_kpf = kb == KB_1G && kpf_1g_in_savings;
	if (with_kpf) {
		/* The kpageflags record's buffer, faulted in before the first reading. */
		jw_reset(&kpf_w);
		sb_reserve(&kpf_w.b, 1UL << 20);
		memset(kpf_w.b.p, 0, kpf_w.b.cap);
	}
	hp_set(kb, 0);
	int settled = settle();
	struct meminfo before = read_meminfo();
	int rc = hp_set(kb, n);
	struct meminfo after = read_meminfo();
	long long got = hp_read(kb, "nr_hugepages");
	scan_heads();
	if (with_kpf && got >= 1) {
		kpageflags_mapped(&kpf_w, kb, "savings");
		kpf_1g_done = 1;
	}
	int rc_free = hp_set(kb, 0);
	struct meminfo freed = read_meminfo();
	/* The record is written only now: growing its buffer between two readings could
	 * fault in a heap page of ours. */
	jw_obj(w, NULL);
	jw_str(w, "kind", "savings");
	jw_uint(w, "hugepage_kb", kb);
	jw_int(w, "n", n);
	jw_int(w, "write_rc", rc);
	jw_int(w, "settled", settled);
	jw_meminfo(w, "before", &before);
	jw_meminfo(w, "after", &after);
	jw_maybe(w, "nr_hugepages", got);
	jw_heads(w, "heads");
	jw_int(w, "free_rc", rc_free);
	jw_meminfo(w, "freed", &freed);
	jw_end_obj(w);
	emit(w);
	if (with_kpf && kpf_w.b.n)
		emit(&kpf_w);
}

static void scenario_savings(struct jw *w, const struct opts *o)
{
	if (!hp_exists(KB_2M)) {
		emit_error("savings", "no hugepages-2048kB directory");
		return;
	}
	savings_one(w, KB_2M, o->n2m);
	if (hp_exists(KB_1G) && o->n1g > 0)
		savings_one(w, KB_1G, o->n1g);
}

/* The kpageflags record of the one folio in the kb pool: maps it, faults it in, reads
 * /proc/kpageflags over it, unmaps it (the folio goes back to the pool).  `pool` names the
 * scenario whose folio it is when not the kpageflags scenario's own ("savings"): the
 * model then does not count it as one more folio prepared and dissolved, and the record
 * is left in `w` for the caller to emit. */
static void kpageflags_mapped(struct jw *w, unsigned long kb, const char *pool)
{
	const char *scen = "kpageflags";
	void *p = map_huge(kb);
	if (!p) {
		emit_error(scen, "mmap of a %lu kB page: %s", kb, strerror(errno));
		return;
	}
	long long head = touch_head_pfn(p);
	if (head < 0) {
		emit_error(scen, "no pfn for the %lu kB page (%lld)", kb, head);
	} else {
		uint64_t nr = kb / 4;
		jw_obj(w, NULL);
		jw_str(w, "kind", "kpageflags");
		jw_uint(w, "hugepage_kb", kb);
		jw_int(w, "head_pfn", head);
		jw_uint(w, "nr", nr);
		if (pool)
			jw_str(w, "pool", pool);
		int r = jw_rle(w, "rle", (uint64_t)head, nr);
		jw_end_obj(w);
		if (r) {
			jw_reset(w);
			emit_error(scen, "reading /proc/kpageflags: %s", strerror(-r));
		} else if (!pool) {
			emit(w);
		}
	}
	munmap(p, kb * 1024UL);
}

static void kpageflags_one(struct jw *w, unsigned long kb)
{
	const char *scen = "kpageflags";
	hp_set(kb, 0);
	int rc = hp_set(kb, 1);
	if (rc || hp_read(kb, "nr_hugepages") < 1) {
		unsigned long mask = 0;
		long stale = count_stale_huge(&mask);
		emit_error(scen, "could not allocate one %lu kB page (rc %d; %ld free pfns 64*m read KPF_HUGE, GiB mask 0x%lx)",
			   kb, rc, stale, mask);
		hp_set(kb, 0);
		return;
	}
	kpageflags_mapped(w, kb, NULL);
	hp_set(kb, 0);
}

static void scenario_kpageflags(struct jw *w, const struct opts *o)
{
	kpageflags_one(w, KB_2M);
	/* Faulting the 1 GiB page in zeroes it: ~5 CPU seconds under TCG; n1g=0 skips it. */
	if (hp_exists(KB_1G) && o->n1g > 0 && !kpf_1g_done)
		kpageflags_one(w, KB_1G);
}

static void stage(struct jw *w, const char *name, long long head)
{
	jw_obj(w, NULL);
	jw_str(w, "stage", name);
	if (head >= 0)
		jw_rle(w, "rle", (uint64_t)head, SZ_2M / PAGE_SZ);
	else
		jw_null(w, "rle");
	jw_pool(w, "pool", KB_2M);
	jw_end_obj(w);
}

/* A pool of exactly one 2 MiB folio, mapped by us; NULL (after an error record) if not. */
static char *map_pool_folio(const char *target, int k)
{
	const char *scen = "hwpoison";
	hp_set(KB_2M, 0);
	int rc = hp_set(KB_2M, 1);
	if (rc || hp_read(KB_2M, "nr_hugepages") < 1) {
		emit_error(scen, "%s k=%d: could not allocate the pool page (rc %d)", target, k, rc);
		return NULL;
	}
	char *p = map_huge(KB_2M);
	if (!p) {
		emit_error(scen, "%s k=%d: mmap: %s", target, k, strerror(errno));
		hp_set(KB_2M, 0);
	}
	return p;
}

static void hwpoison_inuse(struct jw *w, int k)
{
	char *p = map_pool_folio("in-use", k);
	if (!p)
		return;
	memset(p, 0x5c, SZ_2M);
	long long head = vaddr_pfn(p);
	struct pool_snap before = read_pool(KB_2M);
	kmsg_open(0);

	volatile int madv_rc = 0, madv_errno = 0;
	int sig_at_poison = sigsetjmp(probe_env, 1);
	if (!sig_at_poison) {
		probe_armed = 1;
		madv_rc = madvise(p + (size_t)k * PAGE_SZ, PAGE_SZ, HVO_MADV_HWPOISON);
		madv_errno = madv_rc ? errno : 0;
		probe_armed = 0;
	}
	/* Another subpage of the same folio (never the poisoned one). */
	int other = k == 0 ? 1 : 0;
	int probe_sig = probe_read(p + (size_t)other * PAGE_SZ);

	jw_obj(w, NULL);
	jw_str(w, "kind", "hwpoison");
	jw_str(w, "target", "in-use");
	jw_int(w, "subpage", k);
	jw_int(w, "head_pfn", head);
	jw_int(w, "madvise_rc", madv_rc);
	jw_int(w, "errno", madv_errno);
	jw_int(w, "signal_at_poison", sig_at_poison);
	jw_int(w, "probe_subpage", other);
	jw_int(w, "probe_signal", probe_sig);
	jw_pool_snap(w, "pool_before", before);
	jw_arr(w, "stages");
	stage(w, "after_poison", head);
	munmap(p, SZ_2M);
	stage(w, "after_munmap", head);
	int shrink_rc = hp_set(KB_2M, 0);
	stage(w, "after_shrink", head);
	jw_end_arr(w);
	jw_int(w, "shrink_rc", shrink_rc);
	jw_kmsg(w, "dmesg", NULL);
	jw_end_obj(w);
	emit(w);
}

static void hwpoison_free(struct jw *w, int k)
{
	char *p = map_pool_folio("free", k);
	if (!p)
		return;
	long long head = touch_head_pfn(p);
	munmap(p, SZ_2M); /* back on the pool's free list: nr_hugepages stays 1 */
	long long total = hp_read(KB_2M, "nr_hugepages"), free_ = hp_read(KB_2M, "free_hugepages");
	if (head < 0 || total != 1 || free_ != 1) {
		emit_error("hwpoison", "free k=%d: head pfn %lld, pool total %lld free %lld", k, head, total, free_);
		hp_set(KB_2M, 0);
		return;
	}
	struct pool_snap before = read_pool(KB_2M);
	kmsg_open(0);
	char v[32];
	snprintf(v, sizeof(v), "%lld", head + k);
	int inject_rc = write_text("/sys/kernel/debug/hwpoison/corrupt-pfn", v);

	jw_obj(w, NULL);
	jw_str(w, "kind", "hwpoison");
	jw_str(w, "target", "free");
	jw_int(w, "subpage", k);
	jw_int(w, "head_pfn", head);
	jw_int(w, "inject_rc", inject_rc);
	jw_pool_snap(w, "pool_before", before);
	jw_arr(w, "stages");
	stage(w, "after_poison", head);
	int shrink_rc = hp_set(KB_2M, 0);
	stage(w, "after_shrink", head);
	jw_end_arr(w);
	jw_int(w, "shrink_rc", shrink_rc);
	jw_kmsg(w, "dmesg", NULL);
	jw_end_obj(w);
	emit(w);
}

static void scenario_hwpoison(struct jw *w, const struct opts *o)
{
	for (int i = 0; i < o->nsub; i++)
		hwpoison_inuse(w, o->subpages[i]);
	for (int i = 0; i < o->nfree; i++)
		hwpoison_free(w, o->free_subpages[i]);
}

/* Two memory errors in one folio ("hwpoison2").
 *
 * pinned: a 2 MiB anonymous folio, mapped by us and long-term pinned by an io_uring
 * fixed buffer (io_uring/rsrc.c io_sqe_buffer_register() -> pin_user_pages()).  The
 * first error (corrupt-pfn head+k1) unmaps it, but me_huge_page()'s put_page() leaves
 * the pin, so __page_handle_poison() -> dissolve_free_huge_page() finds it in use and
 * fails: the folio stays hugetlb with PG_hwpoison on its head (mm/memory-failure.c
 * v6.1 me_huge_page()).  The second error (head+k2) then meets a hwpoisoned hugetlb
 * head: v6.1+ hugetlb_set_page_hwpoison() adds head+k2 to the raw_hwp list.  Dropping
 * the pin frees the folio onto the pool (free_huge_page() -> enqueue_huge_page()) and
 * shrinking the pool dissolves it through update_and_free_page() ->
 * __update_and_free_page() -> hugetlb_clear_page_hwpoison(), at the head, not at a
 * poisoned subpage: v6.1 flags both raw pages, v5.14..v6.0 (PG_hwpoison moved only by
 * dissolve_free_huge_page(page), to the page it was called with) leave it on the head. */
#define HVO_IORING_REGISTER_BUFFERS 0
#define HVO_IORING_UNREGISTER_BUFFERS 1

static int inject_pfn(long long pfn)
{
	char v[32];
	snprintf(v, sizeof(v), "%lld", pfn);
	return write_text("/sys/kernel/debug/hwpoison/corrupt-pfn", v);
}

static void hwpoison2_pinned(struct jw *w, int k1, int k2)
{
	char *p = map_pool_folio("pinned", k1);
	if (!p)
		return;
	memset(p, 0x5c, SZ_2M);
	long long head = vaddr_pfn(p);
	unsigned char params[256]; /* struct io_uring_params (120 bytes), zeroed */
	memset(params, 0, sizeof(params));
	int ring = (int)syscall(__NR_io_uring_setup, 4, params);
	struct iovec iov = {p, SZ_2M};
	int reg_rc = ring < 0 ? -errno : 0;
	if (ring >= 0 && syscall(__NR_io_uring_register, ring, HVO_IORING_REGISTER_BUFFERS, &iov, 1) < 0)
		reg_rc = -errno;
	if (head < 0 || reg_rc) {
		emit_error("hwpoison2", "pinned: head pfn %lld, io_uring buffer registration %d", head, reg_rc);
		if (ring >= 0)
			close(ring);
		munmap(p, SZ_2M);
		hp_set(KB_2M, 0);
		return;
	}
	struct pool_snap before = read_pool(KB_2M);
	kmsg_open(0);
	jw_obj(w, NULL);
	jw_str(w, "kind", "hwpoison2");
	jw_str(w, "target", "pinned");
	jw_arr(w, "subpages");
	jw_int(w, NULL, k1);
	jw_int(w, NULL, k2);
	jw_end_arr(w);
	jw_int(w, "head_pfn", head);
	jw_pool_snap(w, "pool_before", before);
	jw_arr(w, "inject_rc");
	jw_int(w, NULL, inject_pfn(head + k1));
	jw_int(w, NULL, inject_pfn(head + k2));
	jw_end_arr(w);
	jw_arr(w, "stages");
	stage(w, "after_errors", head);
	munmap(p, SZ_2M);
	int unreg_rc = (int)syscall(__NR_io_uring_register, ring, HVO_IORING_UNREGISTER_BUFFERS, NULL, 0);
	close(ring);
	/* The ring is torn down from a workqueue: wait until the folio is back on the pool. */
	for (int i = 0; i < 50 && hp_read(KB_2M, "free_hugepages") < 1; i++)
		usleep(20000);
	stage(w, "after_unpin", head);
	int shrink_rc = hp_set(KB_2M, 0);
	stage(w, "after_shrink", head);
	jw_end_arr(w);
	jw_int(w, "unregister_rc", unreg_rc);
	jw_int(w, "shrink_rc", shrink_rc);
	jw_kmsg(w, "dmesg", NULL);
	jw_end_obj(w);
	emit(w);
}

static void scenario_hwpoison2(struct jw *w, const struct opts *o)
{
	(void)o;
	hwpoison2_pinned(w, 3, 130);
}

struct dma_case {
	uint64_t disk_offset, buf_offset, length;
};

static void scenario_dma(struct jw *w, const struct opts *o)
{
	const char *scen = "dma";
	/* {disk offset, buffer offset, length}; the disk offset is the buffer offset. */
	static const struct dma_case cases[] = {
		{0x5000, 0x5000, 0x800},    /* willy's example: inside subpage 5 */
		{0x3e00, 0x3e00, 0x400},    /* crosses the subpage 3/4 boundary */
		{0x3200, 0x3200, 0x3000},   /* spans subpages 3..6 */
		{0x1ff000, 0x1ff000, 0x1000}, /* the last subpage (511) */
		{0x3f800, 0x3f800, 0x1000}, /* crosses subpage 63/64: the 64-struct-page boundary */
	};
	int fd = -1;
	for (int tries = 0; tries < 50 && fd < 0; tries++) {
		fd = open(o->disk, O_RDONLY | O_DIRECT | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			usleep(100000);
		else
			break;
	}
	if (fd < 0) {
		emit_error(scen, "open %s O_DIRECT: %s", o->disk, strerror(errno));
		return;
	}
	hp_set(KB_2M, 0);
	int rc = hp_set(KB_2M, 1);
	unsigned char *buf = rc ? NULL : map_huge(KB_2M);
	if (!buf) {
		emit_error(scen, "no 2 MiB hugetlb buffer (rc %d, %s)", rc, strerror(errno));
		close(fd);
		hp_set(KB_2M, 0);
		return;
	}
	jw_obj(w, NULL);
	jw_str(w, "kind", "dma");
	jw_str(w, "disk", o->disk);
	jw_arr(w, "cases");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct dma_case *dc = &cases[c];
		memset(buf, CANARY, SZ_2M);
		long long head = vaddr_pfn(buf);
		ssize_t r = pread(fd, buf + dc->buf_offset, dc->length, (off_t)dc->disk_offset);
		long long rcv = r < 0 ? -errno : (long long)r;
		long long landed = 0, outside = 0, first_bad = -1;
		for (uint64_t i = 0; i < SZ_2M; i++) {
			int inside = i >= dc->buf_offset && i < dc->buf_offset + dc->length;
			int ok;
			if (inside) {
				ok = buf[i] == pattern(dc->disk_offset + (i - dc->buf_offset));
				landed += ok;
			} else {
				ok = buf[i] == CANARY;
				outside += !ok;
			}
			if (!ok && first_bad < 0)
				first_bad = (long long)i;
		}
		jw_obj(w, NULL);
		jw_uint(w, "disk_offset", dc->disk_offset);
		jw_uint(w, "buf_offset", dc->buf_offset);
		jw_uint(w, "length", dc->length);
		jw_int(w, "head_pfn", head);
		jw_int(w, "rc", rcv);
		jw_int(w, "landed", landed);
		jw_int(w, "outside_changed", outside);
		jw_int(w, "first_bad", first_bad);
		jw_end_obj(w);
	}
	jw_end_arr(w);
	jw_end_obj(w);
	emit(w);
	munmap(buf, SZ_2M);
	close(fd);
	hp_set(KB_2M, 0);
}

static const char SYSCTL[] = "/proc/sys/vm/hugetlb_optimize_vmemmap";

static void sysctl_step(struct jw *w, int write_v, const char *action, long nr)
{
	int wrc = 0;
	if (write_v >= 0)
		wrc = write_text(SYSCTL, write_v ? "1" : "0");
	struct meminfo a = read_meminfo();
	int rc = hp_set(KB_2M, nr);
	struct meminfo b = read_meminfo();
	jw_obj(w, NULL);
	jw_maybe(w, "sysctl", read_ll(SYSCTL));
	if (write_v >= 0)
		jw_int(w, "write_rc", wrc);
	else
		jw_null(w, "write_rc");
	jw_str(w, "action", action);
	jw_int(w, "nr_rc", rc);
	jw_maybe(w, "nr", hp_read(KB_2M, "nr_hugepages"));
	jw_obj(w, "delta_kb");
	jw_int(w, "MemTotal", b.v[0] - a.v[0]);
	jw_int(w, "MemFree", b.v[1] - a.v[1]);
	jw_int(w, "PcpFree", b.v[6] - a.v[6]);
	for (int i = MI_OTHER_FIRST; i < MI_N; i++)
		if (a.v[i] != UNKNOWN && b.v[i] != UNKNOWN)
			jw_int(w, MI_KEYS[i], b.v[i] - a.v[i]);
	jw_end_obj(w);
	scan_heads();
	jw_heads(w, "heads");
	jw_end_obj(w);
}

/* In the HVO-off boot this optimizes folios (the sysctl is the kernel's switch, the boot
 * parameter only its initial value: linux-source-6.12 mm/hugetlb_vmemmap.c:391-392 and
 * :652-653 set the same vmemmap_optimize_enabled, read at :494 per folio), and on Debian 6.12.115+ their restore leaves head
 * copies (PGTY_hugetlb) at pfns 64*m that survive the buddy allocator (see savings_one()):
 * a later folio on those pfns that is not optimized reads KPF_HUGE there once dissolved.
 * So the default order runs it after every scenario that reads struct pages (hwpoison2,
 * run after it, read exactly that at the pfns of this scenario's first folio). */
static void scenario_sysctl(struct jw *w, const struct opts *o)
{
	(void)o;
	long long orig = read_ll(SYSCTL);
	hp_set(KB_2M, 0);
	int settled = settle();
	jw_obj(w, NULL);
	jw_str(w, "kind", "sysctl");
	jw_int(w, "settled", settled);
	jw_maybe(w, "initial", orig);
	jw_arr(w, "steps");
	sysctl_step(w, 1, "alloc", 1);
	sysctl_step(w, 0, "alloc", 2);
	sysctl_step(w, 1, "alloc", 3);
	sysctl_step(w, -1, "free", 0);
	jw_end_arr(w);
	int restore_rc = orig == UNKNOWN ? -ENOENT : write_text(SYSCTL, orig ? "1" : "0");
	jw_int(w, "restore_rc", restore_rc);
	jw_maybe(w, "restored", read_ll(SYSCTL));
	jw_end_obj(w);
	emit(w);
	hp_set(KB_2M, 0);
}

/* One folio at a time ("perfolio"): with vm.hugetlb_optimize_vmemmap=1 where the kernel
 * has it (else the boot parameter decides), grow the 2 MiB pool by one folio per step to
 * nfolio, then shrink it by one per step to 0.  Each step records the MemTotal, MemFree
 * and PcpFree change and the pool's head pfns after it, so the model can name the folio
 * each step prepared or dissolved and predict its exact effect: the vmemmap frames freed
 * (to memblock's count when they are boot memory), the PTE table of a first split, the
 * frames a restore allocates. */
static void scenario_perfolio(struct jw *w, const struct opts *o)
{
	long long orig = read_ll(SYSCTL);
	hp_set(KB_2M, 0);
	int wrc = orig == UNKNOWN ? -ENOENT : write_text(SYSCTL, "1");
	int settled = settle();
	jw_obj(w, NULL);
	jw_str(w, "kind", "perfolio");
	jw_int(w, "settled", settled);
	jw_maybe(w, "initial", orig);
	jw_int(w, "write_rc", wrc);
	jw_maybe(w, "sysctl", read_ll(SYSCTL));
	jw_arr(w, "steps");
	for (long i = 1; i <= o->nfolio; i++)
		sysctl_step(w, -1, "alloc", i);
	for (long i = o->nfolio - 1; i >= 0; i--)
		sysctl_step(w, -1, "free", i);
	jw_end_arr(w);
	if (orig != UNKNOWN)
		jw_int(w, "restore_rc", write_text(SYSCTL, orig ? "1" : "0"));
	jw_end_obj(w);
	emit(w);
	hp_set(KB_2M, 0);
}

/* ------------------------------------------------------------ main */

typedef void (*scenario_fn)(struct jw *, const struct opts *);
static const struct {
	const char *name;
	scenario_fn fn;
} SCENARIOS[] = {
	{"savings", scenario_savings}, {"kpageflags", scenario_kpageflags}, {"hwpoison", scenario_hwpoison},
	{"dma", scenario_dma},         {"sysctl", scenario_sysctl},       {"hwpoison2", scenario_hwpoison2},
	{"perfolio", scenario_perfolio},
};

static void run_scenario(const char *name, const struct opts *o)
{
	scenario_fn volatile fn = NULL;
	for (size_t i = 0; i < sizeof(SCENARIOS) / sizeof(SCENARIOS[0]); i++)
		if (!strcmp(name, SCENARIOS[i].name))
			fn = SCENARIOS[i].fn;
	if (!fn) {
		emit_error(name, "unknown scenario");
		return;
	}
	static struct jw w;
	jw_reset(&w);
	int sig = sigsetjmp(scen_env, 1);
	if (sig) {
		jw_reset(&w);
		emit_error(name, "signal %d (%s) during the scenario", sig, strsignal(sig));
		hp_set(KB_2M, 0);
		return;
	}
	scen_armed = 1;
	fn(&w, o);
	scen_armed = 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);

	struct opts o;
	load_opts(&o, argc, argv);
	scan_heads(); /* faults in heads[] and the scan buffer before any reading */
	{
		/* savings before kpageflags: the 1 GiB kpageflags reading uses the savings folio. */
		char list[sizeof(o.scenarios) + 2];
		snprintf(list, sizeof(list), ",%s,", o.scenarios);
		char *sv = strstr(list, ",savings,"), *kp = strstr(list, ",kpageflags,");
		kpf_1g_in_savings = sv && kp && sv < kp;
	}
	scenario_boot();

	char list[sizeof(o.scenarios)];
	snprintf(list, sizeof(list), "%s", o.scenarios);
	char *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		run_scenario(t, &o);

	char up[64];
	double seconds = -1;
	if (read_text("/proc/uptime", up, sizeof(up)) > 0)
		seconds = strtod(up, NULL);
	struct jw w = {0};
	jw_obj(&w, NULL);
	jw_str(&w, "kind", "done");
	jw_double(&w, "seconds", seconds);
	jw_end_obj(&w);
	emit(&w);
	free(w.b.p);
	return 0;
}
