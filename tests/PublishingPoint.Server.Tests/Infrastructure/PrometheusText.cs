using System.Globalization;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>Values read from the server's /metrics (Prometheus text format).</summary>
public static class PrometheusText
{
    /// <summary>The sum of every sample whose metric name starts with <paramref name="name"/> (any labels, any suffix such as _total).</summary>
    public static async Task<double> SumAsync(HttpClient http, string name)
    {
        ArgumentNullException.ThrowIfNull(http);
        var metrics = await http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        return metrics.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }
}
