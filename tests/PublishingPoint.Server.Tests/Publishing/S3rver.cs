using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PublishingPoint.Server.Tests.Publishing;

/// <summary>
/// s3rver (npm, from Browser/node_modules) as a real S3 endpoint on a free loopback port, with one bucket. It
/// serves anonymous GETs at http://127.0.0.1:{port}/{bucket}/{key}, which is how the tests read like a player.
/// Stop kills it (an outage); StartAsync again brings it back on the same port and data folder.
/// </summary>
public sealed class S3rver : IAsyncDisposable
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private readonly string _script;
    private Process? _process;

    private S3rver(string script, string directory, int port, string bucket)
    {
        _script = script;
        Directory = directory;
        Port = port;
        Bucket = bucket;
    }

    public string Directory { get; }

    public int Port { get; }

    public string Bucket { get; }

    public Uri ServiceUrl => new($"http://127.0.0.1:{Port}");

    public Uri ObjectUrl(string key) => new($"http://127.0.0.1:{Port}/{Bucket}/{key}");

    public static async Task<S3rver> StartAsync(string bucket = "media")
    {
        var directory = Infrastructure.TempDirectory.Create("s3rver");
        var server = new S3rver(Script(), directory, FreePort(), bucket);
        await server.StartAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>Publisher settings that point the server at this endpoint.</summary>
    public string[] Settings(params string[] more) =>
    [
        "--PublishingPoint:Publish:Target=S3",
        $"--PublishingPoint:Publish:S3:ServiceUrl={ServiceUrl}",
        $"--PublishingPoint:Publish:S3:Bucket={Bucket}",
        "--PublishingPoint:Publish:S3:ForcePathStyle=true",
        $"--PublishingPoint:Publish:S3:AccessKey={AccessKey}",
        $"--PublishingPoint:Publish:S3:SecretKey={SecretKey}",
        "--PublishingPoint:Publish:S3:TimeoutSeconds=5",
        .. more,
    ];

    public async Task StartAsync()
    {
        var info = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { _script, "-d", Directory, "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-s", "--no-vhost-buckets", "--configure-bucket", Bucket })
        {
            info.ArgumentList.Add(argument);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("could not start s3rver");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                var response = await http.GetAsync(new Uri(ServiceUrl, Bucket)).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
            }
            catch (TaskCanceledException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
            }

            if (DateTime.UtcNow >= deadline || _process.HasExited)
            {
                throw new InvalidOperationException($"s3rver did not start on port {Port}");
            }

            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    /// <summary>Kills the process: the store is down until <see cref="StartAsync()"/>.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().ConfigureAwait(false);
            }

            process.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Script()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "Browser", "node_modules", "s3rver", "bin", "s3rver.js");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("s3rver not found: run `npm ci` in tests/PublishingPoint.Server.Tests/Browser");
    }
}
