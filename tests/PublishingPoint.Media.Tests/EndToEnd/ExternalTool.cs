using System.Diagnostics;

namespace PublishingPoint.Media.Tests.EndToEnd;

internal static class ExternalTool
{
    /// <summary>Runs ffmpeg/ffprobe; returns stdout and stderr, failing the test on a non-zero exit.</summary>
    public static (string StdOut, string StdErr) Run(string tool, params string[] arguments)
    {
        var info = new ProcessStartInfo("/usr/bin/" + tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {tool}.");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var result = (stdout, stderr.Result);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} exited with {process.ExitCode}: {result.Item2}");
        }

        return result;
    }
}
