using System.Diagnostics;
using System.Text;

namespace PublishingPoint.Media.Tests.Fuzzing;

/// <summary>
/// The inputs the mutations start from, made by ffmpeg in the test run (once per process): a Smooth ismv push,
/// a CMAF push (one moof with both tracks), a low-latency CMAF push (200 ms chunks), an MPEG-TS file, and the
/// SMIL server manifest out of the ismv. Short and small, so each case runs in well under a millisecond or two.
/// </summary>
internal sealed class FuzzSeeds
{
    private static readonly Lazy<FuzzSeeds> _instance = new(Make);

    public required byte[] Ismv { get; init; }
    public required byte[] Cmaf { get; init; }
    public required byte[] CmafChunked { get; init; }
    public required byte[] Ts { get; init; }
    public required byte[] Smil { get; init; }

    public static FuzzSeeds Instance => _instance.Value;

    private static FuzzSeeds Make()
    {
        var directory = Path.Combine(Path.GetTempPath(), "pp-fuzz-seeds-" + Environment.ProcessId);
        Directory.CreateDirectory(directory);
        string[] source =
        [
            "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "3", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "100k",
            "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-bf", "2", "-threads", "1", "-c:a", "aac", "-b:a", "32k",
        ];
        var ismv = Path.Combine(directory, "seed.ismv");
        var cmaf = Path.Combine(directory, "seed.mp4");
        var chunked = Path.Combine(directory, "seed-chunked.mp4");
        var ts = Path.Combine(directory, "seed.ts");
        Task.WaitAll(
            Task.Run(() => Ffmpeg([.. source, "-movflags", "isml+frag_keyframe", "-f", "ismv", ismv])),
            Task.Run(() => Ffmpeg([.. source, "-movflags", "cmaf+frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", cmaf])),
            Task.Run(() => Ffmpeg([.. source, "-movflags", "cmaf+empty_moov+default_base_moof+separate_moof", "-frag_duration", "200000", "-f", "mp4", chunked])),
            Task.Run(() => Ffmpeg([.. source, "-f", "mpegts", ts])));

        try
        {
            var ismvBytes = File.ReadAllBytes(ismv);
            return new FuzzSeeds
            {
                Ismv = ismvBytes,
                Cmaf = File.ReadAllBytes(cmaf),
                CmafChunked = File.ReadAllBytes(chunked),
                Ts = File.ReadAllBytes(ts),
                Smil = ExtractSmil(ismvBytes),
            };
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The XML of the ISML 'uuid' box (ffmpeg writes it right after 'ftyp').</summary>
    private static byte[] ExtractSmil(byte[] ismv)
    {
        var text = Encoding.UTF8.GetString(ismv, 0, Math.Min(ismv.Length, 8192));
        var start = text.IndexOf("<?xml", StringComparison.Ordinal);
        var end = text.IndexOf("</smil>", StringComparison.Ordinal);
        if (start < 0 || end < 0)
        {
            throw new InvalidOperationException("the ismv seed has no SMIL manifest");
        }

        return Encoding.UTF8.GetBytes(text[start..(end + "</smil>".Length)]);
    }

    private static void Ffmpeg(string[] arguments)
    {
        var info = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start ffmpeg");
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("ffmpeg did not make the fuzz seed in time");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ffmpeg exited with {process.ExitCode}: {stderr.Result}");
        }
    }
}
