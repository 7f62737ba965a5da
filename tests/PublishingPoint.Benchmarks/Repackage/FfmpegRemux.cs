using System.Globalization;
using PublishingPoint.Benchmarks.Infrastructure;

namespace PublishingPoint.Benchmarks.Repackage;

/// <summary>The reference: <c>ffmpeg -c copy -f mpegts</c> on the same media, wall clock from process start to exit.</summary>
internal static class FfmpegRemux
{
    /// <param name="loops">1 for the plain command; more reads the input that many times in one process (-stream_loop),
    /// so process start and probing are spread over more media: ffmpeg's steady-state speed.</param>
    public static async Task<Measurement> MeasureAsync(RenditionInput input, double mediaSeconds, int runs, int loops, string folder, CancellationToken cancellationToken)
    {
        var output = Path.Combine(folder, input.Rendition.Name + "-ffmpeg.ts");
        var times = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            var run = await ProcessRunner.RunCheckedAsync("ffmpeg", Arguments(input.RemuxInputFile, output, loops), null, cancellationToken);
            times[i] = run.Elapsed.TotalSeconds;
        }

        Array.Sort(times);
        return new Measurement(input.Rendition.Name, 0, mediaSeconds * loops, new FileInfo(output).Length, times[0], times[runs / 2], runs, null);
    }

    public static string CommandLine(RenditionInput input, int loops = 1) =>
        string.Create(CultureInfo.InvariantCulture, $"ffmpeg {string.Join(' ', Arguments(Path.GetFileName(input.RemuxInputFile), "out.ts", loops))}");

    private static string[] Arguments(string input, string output, int loops) => loops > 1
        ? ["-v", "error", "-y", "-stream_loop", (loops - 1).ToString(CultureInfo.InvariantCulture), "-i", input, "-c", "copy", "-f", "mpegts", output]
        : ["-v", "error", "-y", "-i", input, "-c", "copy", "-f", "mpegts", output];
}
