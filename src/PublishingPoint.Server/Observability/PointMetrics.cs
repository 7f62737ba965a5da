using System.Diagnostics.Metrics;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Observability;

/// <summary>What the points look like when scraped (Meter "PublishingPoint.Points"): how many in each state, how far each track lags.</summary>
internal sealed class PointMetrics
{
    public const string MeterName = "PublishingPoint.Points";

    public PointMetrics(IMeterFactory meters, PointRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("count", () => States(registry), "{point}", "Publishing points by state.");
        meter.CreateObservableGauge("track.behind", () => Behind(registry), "{fragment}", "How many fragments a track lags behind the newest track of its point.");
    }

    private static IEnumerable<Measurement<int>> States(PointRegistry registry)
    {
        var points = registry.All;
        foreach (var state in Enum.GetValues<PointState>())
        {
            yield return new Measurement<int>(points.Count(p => p.State == state), new KeyValuePair<string, object?>("state", state.ToString().ToLowerInvariant()));
        }
    }

    private static IEnumerable<Measurement<long>> Behind(PointRegistry registry)
    {
        foreach (var point in registry.All)
        {
            var tracks = point.Tracks();
            var edge = Track.EndSeconds(tracks);
            foreach (var track in tracks)
            {
                if (track.Last is { } last && last.Duration > 0)
                {
                    var behind = (edge - ((double)last.End / track.Description.Timescale)) / ((double)last.Duration / track.Description.Timescale);
                    yield return new Measurement<long>((long)Math.Floor(Math.Max(0, behind)),
                        new KeyValuePair<string, object?>("point", point.Path.Value), new KeyValuePair<string, object?>("track", track.Key.ToString()));
                }
            }
        }
    }
}
