using System.Diagnostics;

namespace PublishingPoint.Benchmarks.Live;

/// <summary>
/// The pre-encoded input of the live benchmarks: one MP4 with three H.264 renditions (720p 2500k, 480p 1000k,
/// 360p 500k, 2 s GOPs) and AAC 128k, encoded once and kept, so pushing it (<c>-re -c copy</c>) costs the
/// encoder almost no CPU and does not disturb the server being measured.
/// </summary>
internal static class LiveLadder
{
    /// <summary>Media length of the file; pushes loop it (<c>-stream_loop -1</c>), a whole number of GOPs.</summary>
    public const int Seconds = 20;

    public const double FragmentSeconds = 2;

    /// <summary>The file, encoded into <paramref name="folder"/> unless it is already there.</summary>
    public static async Task<string> EnsureAsync(string folder, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"ladder-{Seconds}s.mp4");
        if (File.Exists(path))
        {
            return path;
        }

        var partial = path + ".partial.mp4";
        string[] arguments =
        [
            "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000:frequency=440",
            "-t", Seconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-filter_complex", "[0:v]split=3[a][b][c];[b]scale=854:480[b2];[c]scale=640:360[c2]",
            "-map", "[a]", "-map", "[b2]", "-map", "[c2]", "-map", "1:a",
            "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
            "-b:v:0", "2500k", "-maxrate:v:0", "2500k", "-bufsize:v:0", "2500k",
            "-b:v:1", "1000k", "-maxrate:v:1", "1000k", "-bufsize:v:1", "1000k",
            "-b:v:2", "500k", "-maxrate:v:2", "500k", "-bufsize:v:2", "500k",
            "-c:a", "aac", "-b:a", "128k", partial,
        ];
        var info = new ProcessStartInfo("ffmpeg") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start ffmpeg");
        process.StandardInput.Close();
        var stderr = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ffmpeg could not encode the live input ({process.ExitCode}):\n{stderr}");
        }

        File.Move(partial, path, overwrite: true);
        return path;
    }

    /// <summary>Where the input is kept between runs unless a command is told otherwise.</summary>
    public static string DefaultFolder => Path.Combine(Path.GetTempPath(), "pp-bench-live-input");
}
