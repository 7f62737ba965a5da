using System.Globalization;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Admin;

/// <summary>What the dashboard puts in front of an operator about a point, rather than leave it to be read off tables.</summary>
internal static class PointWarnings
{
    /// <summary>Index entries (a fragment of a track: its times, archive offset and what playlists need) held in memory past which a point whose archive is kept for ever is warned about.</summary>
    public const long IndexWarningBytes = 128L * 1024 * 1024;

    /// <param name="archiveLengthSeconds">How long the point keeps its archive (0: for ever, its index growing with it).</param>
    public static string[] Of(Point point, Track[] tracks, DateTimeOffset now, int archiveLengthSeconds, long indexWarningBytes = IndexWarningBytes)
    {
        var warnings = new List<string>();
        var indexBytes = IndexBudget.BytesOf(tracks);
        if (archiveLengthSeconds == 0 && indexBytes > indexWarningBytes)
        {
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"its archive is kept for ever and so is its index: {indexBytes / (1024 * 1024.0):0.#} MB in memory now, growing while it runs until the server's PublishingPoint:MaxIndexBytes makes its oldest files leave it; set archiveLengthSeconds (or PublishingPoint:ArchiveLengthSeconds) for a channel that runs for days"));
        }
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
            if (track.Summary().NewestDiscontinuity is { } discontinuity)
            {
                var at = point.TimelineAnchor is { } anchor
                    ? (anchor + TimeSpan.FromSeconds(discontinuity.Time / (double)track.Description.Timescale)).ToString("HH:mm:ss 'UTC'", CultureInfo.InvariantCulture)
                    : string.Create(CultureInfo.InvariantCulture, $"{discontinuity.Time / (double)track.Description.Timescale:0.0} s");
                warnings.Add($"{track.Key}: discontinuity at {at} (the encoder restarted or skipped time)");
            }
        }

        if (point.LostFragments > 0)
        {
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"{point.LostFragments} fragment(s) listed before their fsync were lost when it failed twice (marked EXT-X-GAP in playlists): check the data folder's disk"));
        }

        foreach (var (track, streamTimescale) in Delivery.Smooth.SmoothManifestBuilder.NotOffered(point))
        {
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"{track.Key} is timed at {track.Description.Timescale} Hz where its Smooth stream is at {streamTimescale} Hz: not offered in the Smooth manifest (HLS and DASH serve it); set the encoder's timescale to match"));
        }

        return [.. warnings];
    }
}
