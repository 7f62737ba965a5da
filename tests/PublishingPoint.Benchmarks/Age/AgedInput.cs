using PublishingPoint.Benchmarks.Infrastructure;
using PublishingPoint.Benchmarks.Live;

namespace PublishingPoint.Benchmarks.Age;

/// <summary>
/// A long, light channel: ffmpeg's ismv push of a 64x36 H.264 picture at one frame a second, a keyframe each (so one
/// fragment a second, 50 kbit/s), recorded once to a file as long as asked and kept for the next run.
/// </summary>
internal static class AgedInput
{
    public static async Task<LiveRecording> EnsureAsync(int seconds, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Path.GetTempPath(), "pp-bench-age-input");
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, $"age-{seconds}.ismv");
        if (!File.Exists(file))
        {
            var partial = file + ".part";
            await ProcessRunner.RunCheckedAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=1",
                "-t", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "50k", "-g", "1",
                "-pix_fmt", "yuv420p", "-movflags", "isml+frag_keyframe", "-f", "ismv", partial], null, cancellationToken);
            File.Move(partial, file);
        }

        return LiveRecording.Parse("v", await File.ReadAllBytesAsync(file, cancellationToken));
    }
}
