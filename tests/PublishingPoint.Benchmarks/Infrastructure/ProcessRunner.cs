using System.Diagnostics;

namespace PublishingPoint.Benchmarks.Infrastructure;

internal sealed record ProcessResult(int ExitCode, string StdErr, TimeSpan Elapsed);

/// <summary>Runs ffmpeg and friends; a failure is an exception with ffmpeg's own message.</summary>
internal static class ProcessRunner
{
    /// <summary>Runs <paramref name="tool"/>, optionally copying its stdout to <paramref name="stdoutFile"/>; timed from start to exit.</summary>
    public static async Task<ProcessResult> RunAsync(string tool, IEnumerable<string> arguments, string? stdoutFile, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = stdoutFile is not null,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {tool}");
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        Task copy = Task.CompletedTask;
        FileStream? file = null;
        if (stdoutFile is not null)
        {
            file = new FileStream(stdoutFile, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true);
            copy = process.StandardOutput.BaseStream.CopyToAsync(file, 1 << 20, cancellationToken);
        }

        try
        {
            await process.WaitForExitAsync(cancellationToken);
            await copy;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        finally
        {
            if (file is not null)
            {
                await file.DisposeAsync();
            }
        }

        clock.Stop();
        return new ProcessResult(process.ExitCode, await stderr, clock.Elapsed);
    }

    public static async Task<ProcessResult> RunCheckedAsync(string tool, IReadOnlyList<string> arguments, string? stdoutFile, CancellationToken cancellationToken)
    {
        var result = await RunAsync(tool, arguments, stdoutFile, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited with {result.ExitCode}:\n{result.StdErr}");
        }

        return result;
    }
}
