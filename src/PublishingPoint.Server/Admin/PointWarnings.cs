using System.Globalization;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Admin;

/// <summary>What the dashboard puts in front of an operator about a point, rather than leave it to be read off tables.</summary>
internal static class PointWarnings
{
    public static string[] Of(Point point, Track[] tracks, DateTimeOffset now)
    {
        var warnings = new List<string>();
        if (point.State == PointState.Live && point.ExpectedEdgeSeconds(now) is { } expected)
        {
            foreach (var track in tracks)
            {
                if (track.Last is not { } last)
                {
                    continue;
                }

                var scale = (double)track.Description.Timescale;
                var behind = expected - (last.End / scale);
                if (behind > Math.Max(6, 3 * last.Duration / scale))
                {
                    warnings.Add(string.Create(CultureInfo.InvariantCulture, $"{track.Key} is {behind:0} s behind real time: its encoder is slow or stalled"));
                }
            }
        }

        foreach (var track in tracks)
        {
            var fragments = track.Snapshot();
            for (var i = fragments.Length - 1; i >= 0; i--)
            {
                if (fragments[i].Discontinuity)
                {
                    var at = point.TimelineAnchor is { } anchor
                        ? (anchor + TimeSpan.FromSeconds(fragments[i].Time / (double)track.Description.Timescale)).ToString("HH:mm:ss 'UTC'", CultureInfo.InvariantCulture)
                        : string.Create(CultureInfo.InvariantCulture, $"{fragments[i].Time / (double)track.Description.Timescale:0.0} s");
                    warnings.Add($"{track.Key}: discontinuity at {at} (the encoder restarted or skipped time)");
                    break;
                }
            }
        }

        return [.. warnings];
    }
}
