using System.Diagnostics;
using System.Text;

namespace PublishingPoint.Server.Tests.Infrastructure;

public sealed record ToolResult(int ExitCode, string StdOut, string StdErr);

/// <summary>Runs the real peers (ffmpeg, ffprobe) with a time limit; a hung peer is killed, not waited for.</summary>
public static class Tool
{
    public static async Task<ToolResult> RunAsync(string tool, IEnumerable<string> arguments, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {tool}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            // The ends of both streams: some peers (gst-launch -v) say what they were doing on standard output only.
            var output = await stdout;
            throw new TimeoutException($"{tool} {string.Join(' ', info.ArgumentList)} did not finish in time: {await stderr}\n... {output[Math.Max(0, output.Length - 4000)..]}");
        }

        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }

    public static async Task<ToolResult> RunCheckedAsync(string tool, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var result = await RunAsync(tool, arguments, timeout);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited with {result.ExitCode}:\n{result.StdErr}");
        }

        return result;
    }

    /// <summary>ffprobe's compact output of a file or URL, as key=value pairs per line.</summary>
    public static async Task<string> ProbeAsync(string input, params string[] extra)
    {
        var result = await RunCheckedAsync("ffprobe", ["-v", "error", .. extra, input]);
        return result.StdOut;
    }

    public static string Describe(ToolResult result)
    {
        var text = new StringBuilder();
        text.Append("exit ").Append(result.ExitCode).AppendLine();
        text.AppendLine(result.StdErr);
        return text.ToString();
    }
}
