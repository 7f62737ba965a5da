using System.Globalization;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Infrastructure;

/// <summary>Options the live commands share.</summary>
internal static class LiveSettings
{
    /// <summary>"--fsync false" turns the archive fsync off; by default the server runs as in production.</summary>
    public static IReadOnlyList<string> Fsync(BenchmarkArguments arguments) =>
        string.Equals(arguments.String("fsync"), "false", StringComparison.OrdinalIgnoreCase) ? ["--PublishingPoint:FsyncArchive=false"] : [];

    /// <summary>A live run as plain JSON-friendly values (RSS samples as [seconds, bytes]).</summary>
    public static object Json(LiveRunResult r) => new
    {
        r.Channels,
        r.Viewers,
        r.Seconds,
        r.CpuPercent,
        r.CpuPercentPerChannel,
        r.ClientCpuPercent,
        r.IdleRssBytes,
        r.FinalRssBytes,
        r.BytesInMemory,
        r.Tracks,
        r.FragmentsObserved,
        r.LateFragments,
        WorstLatenessSeconds = double.IsFinite(r.WorstLatenessSeconds) ? r.WorstLatenessSeconds : -1,
        r.SegmentErrors,
        r.PlaylistErrors,
        r.EncoderStalls,
        r.EncoderExits,
        r.SegmentsFetched,
        r.BytesFetched,
        r.Problems,
        Rss = r.RssSamples.Select(s => new[] { Math.Round(s.Seconds, 1), s.RssBytes }).ToArray(),
    };

    public static string Mb(long bytes) => (bytes / 1e6).ToString("F1", CultureInfo.InvariantCulture);
}
