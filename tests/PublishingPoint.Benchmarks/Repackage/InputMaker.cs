using System.Globalization;
using PublishingPoint.Benchmarks.Infrastructure;

namespace PublishingPoint.Benchmarks.Repackage;

/// <summary>
/// Encodes the ladder with ffmpeg once per run: a test pattern per rendition as Smooth ingest bytes (ismv to a pipe is
/// exactly what ffmpeg POSTs), all on one timeline (same source, fixed GOP, no scene cuts) so segments line up.
/// </summary>
internal static class InputMaker
{
    public static async Task<IReadOnlyList<RenditionInput>> MakeAsync(string folder, int seconds, string preset, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var result = new List<RenditionInput>();
        string? audioSource = null;
        foreach (var r in Rendition.Ladder.OrderByDescending(r => r.WithAudio))
        {
            var ingest = Path.Combine(folder, string.Create(inv, $"{r.Name}-{seconds}s-{preset}.ismv"));
            var remuxInput = r.WithAudio ? ingest : Path.Combine(folder, string.Create(inv, $"{r.Name}-{seconds}s-{preset}-av.ismv"));
            if (File.Exists(ingest) && File.Exists(remuxInput))
            {
                Console.WriteLine($"  reusing {ingest}");
                audioSource = r.WithAudio ? ingest : audioSource;
                result.Add(new RenditionInput(r, ingest, remuxInput));
                continue;
            }

            var args = new List<string> { "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", $"testsrc2=size={r.Width}x{r.Height}:rate={Rendition.FrameRate}" };
            if (r.WithAudio)
            {
                args.AddRange(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
            }

            args.AddRange(["-t", seconds.ToString(inv), "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", preset,
                "-b:v", $"{r.VideoKbps}k", "-maxrate", $"{r.VideoKbps}k", "-bufsize", $"{r.VideoKbps * 2}k",
                "-g", Rendition.Gop.ToString(inv), "-keyint_min", Rendition.Gop.ToString(inv), "-sc_threshold", "0"]);
            if (r.WithAudio)
            {
                args.AddRange(["-c:a", "aac", "-b:a", $"{Rendition.AudioKbps}k"]);
            }

            args.AddRange(["-movflags", "isml+frag_keyframe", "-f", "ismv", "pipe:1"]);
            var run = await ProcessRunner.RunCheckedAsync("ffmpeg", args, ingest, cancellationToken);
            Console.WriteLine($"  encoded {r.Name}: {r.Width}x{r.Height} {r.VideoKbps}k{(r.WithAudio ? $" + AAC {Rendition.AudioKbps}k" : "")}, {new FileInfo(ingest).Length / 1e6:F1} MB in {run.Elapsed.TotalSeconds:F1} s");

            if (r.WithAudio)
            {
                audioSource = ingest;
            }
            else if (audioSource is not null)
            {
                // ffmpeg's input must hold the same media our TS carries: this video plus the shared audio, in the same container.
                await ProcessRunner.RunCheckedAsync("ffmpeg",
                    ["-hide_banner", "-loglevel", "error", "-i", ingest, "-i", audioSource, "-map", "0:v", "-map", "1:a", "-c", "copy",
                     "-movflags", "isml+frag_keyframe", "-f", "ismv", "pipe:1"], remuxInput, cancellationToken);
            }

            result.Add(new RenditionInput(r, ingest, remuxInput));
        }

        return [.. result.OrderByDescending(i => i.Rendition.VideoKbps)];
    }
}
