using System.Globalization;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>What one ffmpeg encoder pushes: a test pattern in H.264 with optional AAC.</summary>
public sealed record EncoderSettings
{
    public int VideoKbps { get; init; } = 400;

    public int Width { get; init; } = 320;

    public int Height { get; init; } = 180;

    /// <summary>0 for no audio.</summary>
    public int AudioKbps { get; init; } = 64;

    public double Seconds { get; init; } = 8;

    /// <summary>Keyframe (and fragment) interval in seconds.</summary>
    public int GopSeconds { get; init; } = 2;

    /// <summary>Real time (-re), as a live encoder; false pushes as fast as ffmpeg can.</summary>
    public bool RealTime { get; init; } = true;

    /// <summary>Noise over the test pattern, which otherwise compresses far below any high bit rate asked for.</summary>
    public bool Noise { get; init; }
}

/// <summary>ffmpeg as the encoder: the push recipes README documents.</summary>
public static class Encoder
{
    public static IEnumerable<string> SmoothPushArguments(Uri target, EncoderSettings s) =>
        Arguments(s, ["-movflags", "isml+frag_keyframe", "-f", "ismv", target.ToString()]);

    /// <summary>Smooth cut into 1 s fragments whatever the keyframes (with a long GopSeconds: fragments without one).</summary>
    public static IEnumerable<string> SmoothPushBySecondArguments(Uri target, EncoderSettings s) =>
        Arguments(s, ["-movflags", "isml", "-frag_duration", "1000000", "-f", "ismv", target.ToString()]);

    /// <summary>CMAF / fragmented MP4 over one chunked POST (DASH-IF live media ingest, interface 1).</summary>
    public static IEnumerable<string> CmafPushArguments(Uri target, EncoderSettings s) =>
        Arguments(s, ["-movflags", "cmaf+frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", target.ToString()]);

    public static Task<ToolResult> PushCmafAsync(Uri target, EncoderSettings settings, CancellationToken cancellationToken = default) =>
        Tool.RunAsync("ffmpeg", CmafPushArguments(target, settings), TimeSpan.FromSeconds(settings.Seconds + 60), cancellationToken);

    private static List<string> Arguments(EncoderSettings s, IEnumerable<string> output)
    {
        var inv = CultureInfo.InvariantCulture;
        var args = new List<string> { "-hide_banner", "-loglevel", "error" };
        if (s.RealTime)
        {
            args.Add("-re");
        }

        args.AddRange(["-f", "lavfi", "-i", $"testsrc=size={s.Width}x{s.Height}:rate=25"]);
        if (s.AudioKbps > 0)
        {
            args.AddRange(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
        }

        args.AddRange(["-t", s.Seconds.ToString(inv), "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast",
            "-b:v", $"{s.VideoKbps}k", "-g", (25 * s.GopSeconds).ToString(inv), "-keyint_min", (25 * s.GopSeconds).ToString(inv), "-sc_threshold", "0"]);
        if (s.Noise)
        {
            args.AddRange(["-vf", "noise=alls=30:allf=t"]);
        }

        if (s.AudioKbps > 0)
        {
            args.AddRange(["-c:a", "aac", "-b:a", $"{s.AudioKbps}k"]);
        }

        args.AddRange(output);
        return args;
    }

    /// <summary>
    /// Low-latency CMAF (README's recipe): a 'moof' every 200 ms inside keyframe-aligned segments, with 'prft' boxes
    /// carrying the capture wall clock, x264 tuned for zero latency.
    /// </summary>
    public static IEnumerable<string> LowLatencyCmafPushArguments(Uri target, EncoderSettings s) =>
        Arguments(s, ["-tune", "zerolatency", "-movflags", "cmaf+empty_moov+default_base_moof+frag_keyframe", "-frag_duration", "200000",
            "-write_prft", "wallclock", "-f", "mp4", target.ToString()]);

    public static Task<ToolResult> PushLowLatencyCmafAsync(Uri target, EncoderSettings settings, CancellationToken cancellationToken = default) =>
        Tool.RunAsync("ffmpeg", LowLatencyCmafPushArguments(target, settings), TimeSpan.FromSeconds(settings.Seconds + 60), cancellationToken);

    public static Task<ToolResult> PushSmoothAsync(Uri target, EncoderSettings settings, CancellationToken cancellationToken = default) =>
        Tool.RunAsync("ffmpeg", SmoothPushArguments(target, settings), TimeSpan.FromSeconds(settings.Seconds + 60), cancellationToken);
}
