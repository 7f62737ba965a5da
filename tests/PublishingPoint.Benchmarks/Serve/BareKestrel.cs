using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace PublishingPoint.Benchmarks.Serve;

/// <summary>
/// The framework's own ceiling for <c>serve --sizes</c>: a bare Kestrel app (CreateSlimBuilder, no logging, one handler
/// writing a file's bytes from memory), in a process of its own as nginx is. What separates it from nginx is the
/// framework's; what separates our server from it is our request path.
/// </summary>
internal static class BareKestrel
{
    public const string Command = "bare-kestrel";

    /// <summary>Starts <c>dotnet PublishingPoint.Benchmarks.dll bare-kestrel ROOT PORT</c> and waits until it answers.</summary>
    public static async Task<Process> StartAsync(string root, int port, string probe, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { typeof(BareKestrel).Assembly.Location, Command, root, port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the bare Kestrel app");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/{probe}"), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return process;
                }
            }
            catch (HttpRequestException) when (attempt < 100 && !process.HasExited)
            {
                await Task.Delay(100, cancellationToken);
                continue;
            }

            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("the bare Kestrel app did not answer");
        }
    }

    /// <summary>Serves every file of <paramref name="root"/> at /{name} from memory until killed.</summary>
    public static async Task<int> RunAsync(string root, int port)
    {
        var files = Directory.GetFiles(root).ToDictionary(f => "/" + Path.GetFileName(f), File.ReadAllBytes, StringComparer.Ordinal);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        await using var app = builder.Build();
        app.Run(context =>
        {
            if (!files.TryGetValue(context.Request.Path.Value ?? "", out var bytes))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            context.Response.ContentType = context.Request.Path.Value!.EndsWith(".ts", StringComparison.Ordinal) ? "video/mp2t" : "application/vnd.apple.mpegurl";
            context.Response.ContentLength = bytes.Length;
            return context.Response.Body.WriteAsync(bytes).AsTask();
        });
        await app.RunAsync();
        return 0;
    }
}
