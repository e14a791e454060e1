// Exact binomial confidence bounds (Clopper-Pearson) and the paired bound on
// a top-1 drop. The regularised incomplete beta function is evaluated by its
// continued fraction (modified Lentz), the binomial bounds by bisection on p.
#include <cmath>

#include "deepsz/optimize.h"

namespace deepsz {
namespace {

// Continued fraction of I_x(a, b); converges fast for x < (a + 1) / (a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEpsilon = 1e-15;
  const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0;
  double d = 1.0 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  // O(sqrt(max(a, b))) terms are needed; 1e5 covers any image count we meet.
  for (int m = 1; m <= 100000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < kEpsilon) break;
  }
  return h;
}

// Regularised incomplete beta I_x(a, b), a, b > 0.
double incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                           a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_continued_fraction(a, b, x) / a;
  return 1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b;
}

// P(X <= k), X ~ Binomial(n, p), k < n.
double binomial_cdf(uint64_t k, uint64_t n, double p) {
  return incomplete_beta(static_cast<double>(n - k), static_cast<double>(k) + 1.0, 1.0 - p);
}

void check_alpha(double alpha) {
  if (!(alpha > 0.0 && alpha < 1.0))
    throw Error(ErrorCode::invalid_argument, "binomial bound: alpha must be in (0, 1)");
}

}  // namespace

double binomial_upper_bound(uint64_t k, uint64_t n, double alpha) {
  check_alpha(alpha);
  if (k > n) throw Error(ErrorCode::invalid_argument, "binomial bound: k > n");
  if (k == n) return 1.0;
  if (k == 0) return -std::expm1(std::log(alpha) / static_cast<double>(n));
  // P(X <= k | p) falls as p grows: find where it crosses alpha.
  double lo = static_cast<double>(k) / static_cast<double>(n), hi = 1.0;
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (binomial_cdf(k, n, mid) > alpha) lo = mid; else hi = mid;
  }
  return hi;  // the conservative side
}

double binomial_lower_bound(uint64_t k, uint64_t n, double alpha) {
  check_alpha(alpha);
  if (k > n) throw Error(ErrorCode::invalid_argument, "binomial bound: k > n");
  if (k == 0) return 0.0;
  if (k == n) return std::exp(std::log(alpha) / static_cast<double>(n));
  // P(X >= k | p) = 1 - P(X <= k - 1 | p) grows with p: find where it crosses alpha.
  double lo = 0.0, hi = static_cast<double>(k) / static_cast<double>(n);
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (1.0 - binomial_cdf(k - 1, n, mid) < alpha) lo = mid; else hi = mid;
  }
  return lo;  // the conservative side
}

double paired_drop_upper_bound(uint64_t correct_to_wrong, uint64_t wrong_to_correct,
                               uint64_t images, double confidence) {
  if (!(confidence > 0.0 && confidence < 1.0))
    throw Error(ErrorCode::invalid_argument, "paired bound: confidence must be in (0, 1)");
  if (images == 0 || correct_to_wrong > images || wrong_to_correct > images - correct_to_wrong)
    throw Error(ErrorCode::invalid_argument, "paired bound: flip counts do not fit the image count");
  const double alpha = (1.0 - confidence) / 2.0;  // Bonferroni over the two proportions
  return 100.0 * (binomial_upper_bound(correct_to_wrong, images, alpha) -
                  binomial_lower_bound(wrong_to_correct, images, alpha));
}

double discordant_drop_upper_bound(uint64_t correct_to_wrong, uint64_t wrong_to_correct, uint64_t images,
                                   double confidence) {
  if (!(confidence > 0.0 && confidence < 1.0))
    throw Error(ErrorCode::invalid_argument, "discordant bound: confidence must be in (0, 1)");
  if (images == 0 || correct_to_wrong > images || wrong_to_correct > images - correct_to_wrong)
    throw Error(ErrorCode::invalid_argument, "discordant bound: flip counts do not fit the image count");
  const uint64_t m = correct_to_wrong + wrong_to_correct;
  if (m == 0) return 0.0;
  const double q = binomial_upper_bound(correct_to_wrong, m, 1.0 - confidence);
  return 100.0 * static_cast<double>(m) / static_cast<double>(images) * (2.0 * q - 1.0);
}

double normal_quantile(double p) {
  if (!(p > 0.0 && p < 1.0)) throw Error(ErrorCode::invalid_argument, "normal quantile: p must be in (0, 1)");
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  double x;
  if (p < 0.02425) {
    const double q = std::sqrt(-2.0 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  } else if (p > 1.0 - 0.02425) {
    const double q = std::sqrt(-2.0 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
  }
  // One Halley step on Phi(x) - p.
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2.0 * M_PI) * std::exp(x * x / 2.0);
  return x - u / (1.0 + x * u / 2.0);
}

}  // namespace deepsz
