using System.Globalization;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Infrastructure;

/// <summary>Options the live commands share.</summary>
internal static class LiveSettings
{
    /// <summary>The options' lines for the server settings below.</summary>
    public const string FsyncOption = "--fsync false     archive without fsync (default: the server's default, fsync on)";

    public const string SetOption = "--set K=V[,K=V]   server settings beyond the shipped ones, e.g. PublishingPoint:MemoryWindowSeconds=10";

    public const string EnvOption = "--env K=V[,K=V]   the server process's environment beyond this one's, e.g. DOTNET_TieredPGO=0 (a runtime knob against the shipped runtimeconfig; numbers in DOTNET_ knobs are hexadecimal)";

    /// <summary>
    /// Server command-line settings: "--fsync false" turns the archive fsync off and "--set" adds settings; without
    /// them the server runs as shipped.
    /// </summary>
    public static IReadOnlyList<string> Server(BenchmarkArguments arguments)
    {
        var settings = new List<string>();
        if (string.Equals(arguments.String("fsync"), "false", StringComparison.OrdinalIgnoreCase))
        {
            settings.Add("--PublishingPoint:FsyncArchive=false");
        }

        settings.AddRange(Pairs(arguments, "set").Select(p => $"--{p.Name}={p.Value}"));
        return settings;
    }

    /// <summary>"--env": variables for the server process only (the benchmark's own process keeps its environment).</summary>
    public static Dictionary<string, string> Environment(BenchmarkArguments arguments) =>
        Pairs(arguments, "env").GroupBy(p => p.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);

    // "--{option} K=V,K=V": the pairs in order (a value may hold '=').
    private static IEnumerable<(string Name, string Value)> Pairs(BenchmarkArguments arguments, string option)
    {
        foreach (var pair in (arguments.String(option) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new ArgumentException($"--{option} takes Name=Value pairs separated by commas, not '{pair}'");
            }

            yield return (pair[..equals], pair[(equals + 1)..]);
        }
    }

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
        r.SlowSegments,
        r.WorstDeliverySeconds,
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
