/*
 * Fast CPU backend of the D2Q9 advection-diffusion solver.
 *
 * Fused pull-stream + collide over a structure-of-arrays layout, OpenMP over
 * rows of all planes, the inner loop over a row's interior columns written so
 * that the compiler vectorises it (nine streamed source rows, nine destination
 * rows, two velocity rows). The per-node arithmetic comes from d2q9_node.h, the
 * same source the CUDA kernel is compiled from; the two edge columns of every
 * row go through adv_node_update, the CUDA kernel's per-node function.
 *
 * Loaded from Python with ctypes (advdiff/lbm/backends/cpu.py); the ctypes call
 * releases the GIL. The module init below only makes the file a valid CPython
 * extension so that setuptools can build and install it.
 */
#include <Python.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "d2q9_node.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(ADV_NO_CLONES)
#define ADV_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ADV_CLONES
#endif

#define ADV_EXPORT __attribute__((visibility("default")))

/* One row's interior columns [x0, x1): the hot loop. */
#define ADV_ROW_BODY(COLLIDE)                                                                            \
    for (int x = x0; x < x1; ++x) {                                                                      \
        float f[ADV_Q];                                                                                  \
        f[0] = s0[x]; f[1] = s1[x]; f[2] = s2[x]; f[3] = s3[x]; f[4] = s4[x];                            \
        f[5] = s5[x]; f[6] = s6[x]; f[7] = s7[x]; f[8] = s8[x];                                          \
        COLLIDE(f, vx[x], vy[x], omega);                                                                 \
        d0[x] = f[0]; d1[x] = f[1]; d2[x] = f[2]; d3[x] = f[3]; d4[x] = f[4];                            \
        d5[x] = f[5]; d6[x] = f[6]; d7[x] = f[7]; d8[x] = f[8];                                          \
    }

#define ADV_ROW_ARGS                                                                                     \
    const float *ADV_RESTRICT s0, const float *ADV_RESTRICT s1, const float *ADV_RESTRICT s2,            \
        const float *ADV_RESTRICT s3, const float *ADV_RESTRICT s4, const float *ADV_RESTRICT s5,         \
        const float *ADV_RESTRICT s6, const float *ADV_RESTRICT s7, const float *ADV_RESTRICT s8,         \
        float *ADV_RESTRICT d0, float *ADV_RESTRICT d1, float *ADV_RESTRICT d2, float *ADV_RESTRICT d3,   \
        float *ADV_RESTRICT d4, float *ADV_RESTRICT d5, float *ADV_RESTRICT d6, float *ADV_RESTRICT d7,   \
        float *ADV_RESTRICT d8, const float *ADV_RESTRICT vx, const float *ADV_RESTRICT vy, int x0,      \
        int x1, float omega

ADV_CLONES static void row_bgk(ADV_ROW_ARGS) { ADV_ROW_BODY(adv_collide_bgk) }
ADV_CLONES static void row_cm(ADV_ROW_ARGS) { ADV_ROW_BODY(adv_collide_cm) }
ADV_CLONES static void row_cm_authors(ADV_ROW_ARGS) { ADV_ROW_BODY(adv_collide_cm_authors) }

static int resolve_threads(int n_threads)
{
#ifdef _OPENMP
    return n_threads > 0 ? n_threads : omp_get_max_threads();
#else
    (void)n_threads;
    return 1;
#endif
}

/* Update every node of row y of plane p from src into dst. */
static void update_row(const float *src, float *dst, const float *vel, const float *zeros, int C, int H, int W,
                       long long qstride, int p, int y, float omega, int collision, int boundary)
{
    static const int ex[ADV_Q] = ADV_EX_INIT;
    static const int ey[ADV_Q] = ADV_EY_INIT;
    static const int opp[ADV_Q] = ADV_OPP_INIT;
    const long long plane = (long long)H * W;
    const long long pbase = (long long)p * plane;

    adv_node_update(src, dst, vel, C, H, W, qstride, p, y, 0, omega, collision, boundary);
    if (W > 1) adv_node_update(src, dst, vel, C, H, W, qstride, p, y, W - 1, omega, collision, boundary);
    if (W <= 2) return;

    const float *s[ADV_Q];
    float *d[ADV_Q];
    for (int i = 0; i < ADV_Q; ++i) {
        int sy = y - ey[i];
        if (sy >= 0 && sy < H) {
            s[i] = src + i * qstride + pbase + (long long)sy * W - ex[i];
        } else if (boundary == ADV_BOUNDARY_PERIODIC) {
            sy = sy < 0 ? sy + H : sy - H;
            s[i] = src + i * qstride + pbase + (long long)sy * W - ex[i];
        } else { /* bounce back from the wall: the opposite population of this node */
            s[i] = src + opp[i] * qstride + pbase + (long long)y * W;
        }
        d[i] = dst + i * qstride + pbase + (long long)y * W;
    }
    const float *vx = zeros, *vy = zeros;
    if (vel) {
        vx = vel + (long long)(p / C) * 2 * plane + (long long)y * W;
        vy = vx + plane;
    }
    if (collision == ADV_COLLISION_CM)
        row_cm(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
               d[8], vx, vy, 1, W - 1, omega);
    else if (collision == ADV_COLLISION_CM_AUTHORS)
        row_cm_authors(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
                       d[7], d[8], vx, vy, 1, W - 1, omega);
    else
        row_bgk(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
                d[8], vx, vy, 1, W - 1, omega);
}

/* Advance n_steps steps, ping-ponging between fa and fb (fa holds the start
 * state). After an even number of steps the result is in fa, else in fb.
 * vel is NULL (no velocity) or a (B, 2, H, W) field held for all steps.
 * generic != 0 routes every node through adv_node_update (the CUDA kernel's
 * code path), for tests. Returns 0, or -1 if scratch memory is unavailable. */
ADV_EXPORT int adv_cpu_run(float *fa, float *fb, int P, int C, int H, int W, const float *vel, const float *omegas,
                           int n_steps, int collision, int boundary, int n_threads, int generic)
{
    const long long qstride = (long long)P * H * W;
    const long long rows = (long long)P * H;
    float *zeros = (float *)calloc((size_t)(W > 0 ? W : 1), sizeof(float));
    if (!zeros) return -1;
    const int threads = resolve_threads(n_threads);
#pragma omp parallel num_threads(threads)
    for (int s = 0; s < n_steps; ++s) {
        const float *src = (s % 2 == 0) ? fa : fb;
        float *dst = (s % 2 == 0) ? fb : fa;
        const float omega = omegas[s];
#pragma omp for schedule(static)
        for (long long r = 0; r < rows; ++r) {
            const int p = (int)(r / H), y = (int)(r % H);
            if (generic) {
                for (int x = 0; x < W; ++x)
                    adv_node_update(src, dst, vel, C, H, W, qstride, p, y, x, omega, collision, boundary);
            } else {
                update_row(src, dst, vel, zeros, C, H, W, qstride, p, y, omega, collision, boundary);
            }
        }
    }
    free(zeros);
    return 0;
}

/* Equilibrium populations f (9, P, H, W) of density rho (P, H, W) and velocity vel (NULL or (B, 2, H, W)). */
ADV_EXPORT void adv_cpu_equilibrium(const float *rho, const float *vel, float *f, int P, int C, int H, int W,
                                    int n_threads)
{
    const long long plane = (long long)H * W;
    const long long n = (long long)P * plane;
    const int threads = resolve_threads(n_threads);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (long long k = 0; k < n; ++k) adv_init_node(rho, vel, f, C, plane, n, k);
}

/* Density rho = sum_i f_i. */
ADV_EXPORT void adv_cpu_density(const float *f, float *rho, long long n, int n_threads)
{
    const int threads = resolve_threads(n_threads);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (long long k = 0; k < n; ++k) {
        float s = 0.0f;
        for (int i = 0; i < ADV_Q; ++i) s += f[i * n + k];
        rho[k] = s;
    }
}

/* Largest |v|^2 of a (B, 2, H, W) field; NaN if any component is not finite (for the Mach check). */
ADV_EXPORT double adv_cpu_max_speed2(const float *vel, int B, long long plane, int n_threads)
{
    const int threads = resolve_threads(n_threads);
    double best = 0.0;
    int finite = 1;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(max : best) reduction(&& : finite)
    for (int b = 0; b < B; ++b) {
        const float *vx = vel + (long long)b * 2 * plane, *vy = vx + plane;
        float m = 0.0f;
        int ok = 1;
        for (long long k = 0; k < plane; ++k) {
            const float s = vx[k] * vx[k] + vy[k] * vy[k];
            ok &= s == s && s <= 3.0e38f; /* false for NaN and inf */
            m = s > m ? s : m;
        }
        best = m > best ? m : best;
        finite = finite && ok;
    }
    return finite ? best : NAN;
}

/* Multi-threaded copy, for the benchmark's memory-bandwidth roofline. */
ADV_EXPORT void adv_cpu_copy(float *ADV_RESTRICT dst, const float *ADV_RESTRICT src, long long n, int n_threads)
{
    const int threads = resolve_threads(n_threads);
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
        const int t = 0, nt = 1;
#endif
        const long long chunk = (n + nt - 1) / nt;
        const long long a = t * chunk, b = a + chunk < n ? a + chunk : n;
        if (b > a) memcpy(dst + a, src + a, (size_t)(b - a) * sizeof(float));
    }
}

/* The lattice constants this library was compiled with (tests compare them with lattice.py). */
ADV_EXPORT void adv_cpu_lattice(int *ex, int *ey, int *opp, float *w)
{
    const int cx[ADV_Q] = ADV_EX_INIT, cy[ADV_Q] = ADV_EY_INIT, co[ADV_Q] = ADV_OPP_INIT;
    const float cw[ADV_Q] = ADV_W_INIT;
    for (int i = 0; i < ADV_Q; ++i) {
        ex[i] = cx[i];
        ey[i] = cy[i];
        opp[i] = co[i];
        w[i] = cw[i];
    }
}

ADV_EXPORT int adv_cpu_openmp_threads(void) { return resolve_threads(0); }

static struct PyModuleDef adv_module = {PyModuleDef_HEAD_INIT, "_d2q9cpu",
                                        "D2Q9 CPU kernels; loaded through ctypes by advdiff.lbm.backends.cpu.", -1,
                                        NULL};

PyMODINIT_FUNC PyInit__d2q9cpu(void) { return PyModule_Create(&adv_module); }
