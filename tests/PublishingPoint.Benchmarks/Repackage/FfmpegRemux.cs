using System.Globalization;
using PublishingPoint.Benchmarks.Infrastructure;

namespace PublishingPoint.Benchmarks.Repackage;

/// <summary>The reference: <c>ffmpeg -c copy -f mpegts</c> on the same media, wall clock from process start to exit.</summary>
internal static class FfmpegRemux
{
    public static async Task<Measurement> MeasureAsync(RenditionInput input, double mediaSeconds, int runs, string folder, CancellationToken cancellationToken)
    {
        var output = Path.Combine(folder, input.Rendition.Name + "-ffmpeg.ts");
        var times = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            var run = await ProcessRunner.RunCheckedAsync("ffmpeg", Arguments(input.RemuxInputFile, output), null, cancellationToken);
            times[i] = run.Elapsed.TotalSeconds;
        }

        Array.Sort(times);
        return new Measurement(input.Rendition.Name, 0, mediaSeconds, new FileInfo(output).Length, times[0], times[runs / 2], runs, null);
    }

    /// <summary>ffmpeg's fixed cost on this input: the same command copying nothing (-t 0): process start, probing, muxer set-up.</summary>
    public static async Task<double> FixedCostAsync(RenditionInput input, int runs, string folder, CancellationToken cancellationToken)
    {
        var output = Path.Combine(folder, input.Rendition.Name + "-ffmpeg-empty.ts");
        var best = double.MaxValue;
        for (var i = 0; i < runs; i++)
        {
            var run = await ProcessRunner.RunCheckedAsync("ffmpeg", ["-v", "error", "-y", "-i", input.RemuxInputFile, "-t", "0", "-c", "copy", "-f", "mpegts", output], null, cancellationToken);
            best = Math.Min(best, run.Elapsed.TotalSeconds);
        }

        return best;
    }

    public static string CommandLine(RenditionInput input) =>
        string.Create(CultureInfo.InvariantCulture, $"ffmpeg {string.Join(' ', Arguments(Path.GetFileName(input.RemuxInputFile), "out.ts"))}");

    private static string[] Arguments(string input, string output) => ["-v", "error", "-y", "-i", input, "-c", "copy", "-f", "mpegts", output];
}
