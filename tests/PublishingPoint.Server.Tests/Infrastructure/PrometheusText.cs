using System.Globalization;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>Values read from the server's /metrics (Prometheus text format).</summary>
public static class PrometheusText
{
    /// <summary>
    /// The sum of every sample whose metric name starts with <paramref name="name"/> (any suffix such as _total), of any
    /// labels or only of those with <paramref name="label"/> (as written: <c>thread="pool"</c>).
    /// </summary>
    public static async Task<double> SumAsync(HttpClient http, string name, string? label = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        var metrics = await http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        return metrics.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal) && (label is null || l.Contains(label, StringComparison.Ordinal)))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }
}
