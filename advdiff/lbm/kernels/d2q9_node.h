/*
 * D2Q9 advection-diffusion: per-node arithmetic shared by the CPU extension
 * (d2q9_cpu.c, compiled by the C compiler) and the CUDA kernel (d2q9_cuda.cu,
 * compiled by NVRTC for CuPy). Nothing here allocates or loops over the grid.
 *
 * Layout: populations are structure-of-arrays, f[i][p][y][x] with i the
 * direction (0..8), p the plane (image * channels + channel), y the row
 * (height axis) and x the column (width axis). Velocity is v[b][c][y][x] with
 * b the image, c = 0 the x component and c = 1 the y component.
 *
 * Lattice constants mirror advdiff/lbm/lattice.py (checked by the tests).
 * Collision operators:
 *   BGK:            f_i <- f_i + omega (f_i^eq(rho, v) - f_i)
 *   central moment: first-order central moments relax with (1 - omega), second
 *                   order go to c_s^2 rho (kappa11 -> 0), third order relax with
 *                   (1 - omega), fourth order goes to c_s^4 rho (or omega c_s^4 rho,
 *                   as the paper's code does: ADV_COLLISION_CM_AUTHORS).
 * The velocity is imposed; rho = sum_i f_i is the transported scalar.
 */
#ifndef ADV_D2Q9_NODE_H
#define ADV_D2Q9_NODE_H

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define ADV_HD __device__ __forceinline__
#define ADV_RESTRICT __restrict__
#define ADV_UNROLL _Pragma("unroll")
#else
#define ADV_HD static inline
#define ADV_RESTRICT restrict
#define ADV_UNROLL _Pragma("GCC unroll 9")
#endif

#define ADV_Q 9
#define ADV_EX_INIT {0, 1, 0, -1, 0, 1, -1, -1, 1}
#define ADV_EY_INIT {0, 0, 1, 0, -1, 1, 1, -1, -1}
#define ADV_OPP_INIT {0, 3, 4, 1, 2, 7, 8, 5, 6}
#define ADV_W0 (4.0f / 9.0f)
#define ADV_W1 (1.0f / 9.0f)
#define ADV_W2 (1.0f / 36.0f)
#define ADV_W_INIT {ADV_W0, ADV_W1, ADV_W1, ADV_W1, ADV_W1, ADV_W2, ADV_W2, ADV_W2, ADV_W2}

#define ADV_COLLISION_BGK 0
#define ADV_COLLISION_CM 1
#define ADV_COLLISION_CM_AUTHORS 2 /* central moment with kappa22 -> omega c_s^4 rho, as the paper's code */
#define ADV_BOUNDARY_NEUMANN 0
#define ADV_BOUNDARY_PERIODIC 1

/* Second-order equilibrium f_i^eq = w_i rho (1 + 3 e.v + 4.5 (e.v)^2 - 1.5 |v|^2). */
ADV_HD void adv_equilibrium(float rho, float ux, float uy, float *feq)
{
    const float ex[ADV_Q] = ADV_EX_INIT;
    const float ey[ADV_Q] = ADV_EY_INIT;
    const float w[ADV_Q] = ADV_W_INIT;
    const float usq = 1.5f * (ux * ux + uy * uy);
ADV_UNROLL
    for (int i = 0; i < ADV_Q; ++i) {
        const float eu = ex[i] * ux + ey[i] * uy;
        feq[i] = w[i] * rho * (1.0f + 3.0f * eu + 4.5f * eu * eu - usq);
    }
}

/* Mass bookkeeping. The node's pre-collision sum is taken in double precision and
 * the rest population f_0 is set so that the post-collision populations add up to it:
 * each node then changes the channel sum by one unbiased float rounding per step.
 * (Summing and closing in float32 leaves rounding errors that are correlated with the
 * structured populations and drift a channel's sum by ~1e-5 over 1000 steps.) */
ADV_HD double adv_mass(const float *f)
{
    double m = 0.0;
ADV_UNROLL
    for (int i = 0; i < ADV_Q; ++i) m += (double)f[i];
    return m;
}

ADV_HD void adv_close_mass(float *f, double mass)
{
    double moving = 0.0;
ADV_UNROLL
    for (int i = 1; i < ADV_Q; ++i) moving += (double)f[i];
    f[0] = (float)(mass - moving);
}

ADV_HD void adv_collide_bgk(float *f, float ux, float uy, float omega)
{
    const float ex[ADV_Q] = ADV_EX_INIT;
    const float ey[ADV_Q] = ADV_EY_INIT;
    const float w[ADV_Q] = ADV_W_INIT;
    const double mass = adv_mass(f);
    const float rho = (float)mass;
    const float usq = 1.5f * (ux * ux + uy * uy);
ADV_UNROLL
    for (int i = 1; i < ADV_Q; ++i) {
        const float eu = ex[i] * ux + ey[i] * uy;
        const float feq = w[i] * rho * (1.0f + 3.0f * eu + 4.5f * eu * eu - usq);
        f[i] += omega * (feq - f[i]);
    }
    adv_close_mass(f, mass);
}

/* Central-moment collision. Raw moments m_pq = sum_i f_i ex^p ey^q, shifted to
 * central moments k_pq about the imposed velocity by the binomial expansion,
 * relaxed, shifted back and mapped to populations by the closed-form inverse of
 * the D2Q9 raw-moment matrix. kappa22 goes to k22 c_s^4 rho: k22 = 1 is its
 * equilibrium; the paper's code uses k22 = omega. */
ADV_HD void adv_collide_cm_k22(float *f, float ux, float uy, float omega, float k22)
{
    /* raw moments */
    const double mass = adv_mass(f);
    const float m00 = (float)mass;
    const float m10 = f[1] - f[3] + f[5] - f[6] - f[7] + f[8];
    const float m01 = f[2] - f[4] + f[5] + f[6] - f[7] - f[8];
    const float m20 = f[1] + f[3] + f[5] + f[6] + f[7] + f[8];
    const float m02 = f[2] + f[4] + f[5] + f[6] + f[7] + f[8];
    const float m11 = f[5] - f[6] + f[7] - f[8];
    const float m21 = f[5] + f[6] - f[7] - f[8];
    const float m12 = f[5] - f[6] - f[7] + f[8];
    /* central moments that survive the collision (the others are set below) */
    const float ux2 = ux * ux, uy2 = uy * uy, uxy = ux * uy;
    const float k10 = m10 - ux * m00;
    const float k01 = m01 - uy * m00;
    const float k21 = m21 - 2.0f * ux * m11 + ux2 * m01 - uy * m20 + 2.0f * uxy * m10 - ux2 * uy * m00;
    const float k12 = m12 - 2.0f * uy * m11 + uy2 * m10 - ux * m02 + 2.0f * uxy * m01 - ux * uy2 * m00;
    /* relaxation */
    const float r = 1.0f - omega;
    const float c0 = m00;                     /* kappa00 */
    const float c10 = r * k10, c01 = r * k01; /* sets the diffusivity */
    const float c20 = c0 * (1.0f / 3.0f);     /* kappa20 = kappa02 = c_s^2 rho, kappa11 = 0 */
    const float c21 = r * k21, c12 = r * k12;
    const float c22 = k22 * (c0 * (1.0f / 9.0f)); /* k22 c_s^4 rho */
    /* back to raw moments (kappa11 = 0, kappa02 = kappa20) */
    const float n10 = c10 + ux * c0;
    const float n01 = c01 + uy * c0;
    const float n20 = c20 + 2.0f * ux * c10 + ux2 * c0;
    const float n02 = c20 + 2.0f * uy * c01 + uy2 * c0;
    const float n11 = ux * c01 + uy * c10 + uxy * c0;
    const float n21 = c21 + ux2 * c01 + uy * c20 + 2.0f * uxy * c10 + ux2 * uy * c0;
    const float n12 = c12 + uy2 * c10 + ux * c20 + 2.0f * uxy * c01 + ux * uy2 * c0;
    const float n22 = c22 + 2.0f * ux * c12 + 2.0f * uy * c21 + ux2 * c20 + uy2 * c20 + 2.0f * ux * uy2 * c10 +
                      2.0f * ux2 * uy * c01 + ux2 * uy2 * c0;
    /* populations */
    f[0] = c0 - n20 - n02 + n22;
    f[1] = 0.5f * (n10 + n20 - n12 - n22);
    f[2] = 0.5f * (n01 + n02 - n21 - n22);
    f[3] = 0.5f * (-n10 + n20 + n12 - n22);
    f[4] = 0.5f * (-n01 + n02 + n21 - n22);
    f[5] = 0.25f * (n11 + n21 + n12 + n22);
    f[6] = 0.25f * (-n11 + n21 - n12 + n22);
    f[7] = 0.25f * (n11 - n21 - n12 + n22);
    f[8] = 0.25f * (-n11 - n21 + n12 + n22);
    adv_close_mass(f, mass);
}

ADV_HD void adv_collide_cm(float *f, float ux, float uy, float omega) { adv_collide_cm_k22(f, ux, uy, omega, 1.0f); }

ADV_HD void adv_collide_cm_authors(float *f, float ux, float uy, float omega)
{
    adv_collide_cm_k22(f, ux, uy, omega, omega);
}

ADV_HD void adv_collide(float *f, float ux, float uy, float omega, int collision)
{
    if (collision == ADV_COLLISION_CM)
        adv_collide_cm(f, ux, uy, omega);
    else if (collision == ADV_COLLISION_CM_AUTHORS)
        adv_collide_cm_authors(f, ux, uy, omega);
    else
        adv_collide_bgk(f, ux, uy, omega);
}

/* Pull-streaming gather of the nine populations arriving at node (p, y, x).
 * src holds post-collision populations. A population whose source node lies
 * outside the grid wraps around (periodic) or is the opposite population that
 * left this node and bounced back from the wall half a cell away (Neumann:
 * zero flux, exactly mass conserving). */
ADV_HD void adv_gather(const float *ADV_RESTRICT src, long long qstride, long long pbase, int y, int x, int H, int W,
                       int boundary, float *f)
{
    const int ex[ADV_Q] = ADV_EX_INIT;
    const int ey[ADV_Q] = ADV_EY_INIT;
    const int opp[ADV_Q] = ADV_OPP_INIT;
ADV_UNROLL
    for (int i = 0; i < ADV_Q; ++i) {
        int sx = x - ex[i];
        int sy = y - ey[i];
        const int outside = sx < 0 || sx >= W || sy < 0 || sy >= H;
        if (!outside) {
            f[i] = src[i * qstride + pbase + (long long)sy * W + sx];
        } else if (boundary == ADV_BOUNDARY_PERIODIC) {
            sx = sx < 0 ? sx + W : (sx >= W ? sx - W : sx);
            sy = sy < 0 ? sy + H : (sy >= H ? sy - H : sy);
            f[i] = src[i * qstride + pbase + (long long)sy * W + sx];
        } else {
            f[i] = src[opp[i] * qstride + pbase + (long long)y * W + x];
        }
    }
}

/* One fused stream + collide update of node (p, y, x): the whole per-node work of
 * the CUDA kernel, also run on the CPU for the grid edges and by the tests. */
ADV_HD void adv_node_update(const float *ADV_RESTRICT src, float *ADV_RESTRICT dst, const float *ADV_RESTRICT vel,
                            int C, int H, int W, long long qstride, int p, int y, int x, float omega, int collision,
                            int boundary)
{
    float f[ADV_Q];
    const long long plane = (long long)H * W;
    const long long pbase = (long long)p * plane;
    adv_gather(src, qstride, pbase, y, x, H, W, boundary, f);
    float ux = 0.0f, uy = 0.0f;
    if (vel) {
        const long long vbase = (long long)(p / C) * 2 * plane + (long long)y * W + x;
        ux = vel[vbase];
        uy = vel[vbase + plane];
    }
    adv_collide(f, ux, uy, omega, collision);
    const long long o = pbase + (long long)y * W + x;
ADV_UNROLL
    for (int i = 0; i < ADV_Q; ++i) dst[i * qstride + o] = f[i];
}

/* Equilibrium initialisation of flat node k (plane * H * W + y * W + x) of n = P * H * W
 * nodes: the per-node work of both backends' equilibrium kernels. */
ADV_HD void adv_init_node(const float *ADV_RESTRICT rho, const float *ADV_RESTRICT vel, float *ADV_RESTRICT f,
                          int C, long long plane, long long n, long long k)
{
    float ux = 0.0f, uy = 0.0f;
    if (vel) {
        const long long p = k / plane, yx = k % plane;
        ux = vel[(p / C) * 2 * plane + yx];
        uy = vel[(p / C) * 2 * plane + plane + yx];
    }
    float feq[ADV_Q];
    adv_equilibrium(rho[k], ux, uy, feq);
ADV_UNROLL
    for (int i = 0; i < ADV_Q; ++i) f[i * n + k] = feq[i];
}

#endif /* ADV_D2Q9_NODE_H */
