using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>Debian's nginx running deploy/nginx/publishingpoint.conf as shipped, on loopback, in front of an origin.</summary>
public sealed class ShippedNginx : IDisposable
{
    private readonly Process _process;

    private ShippedNginx(Process process, int port)
    {
        _process = process;
        BaseUrl = new Uri($"http://127.0.0.1:{port}/");
    }

    public Uri BaseUrl { get; }

    /// <summary>nginx with the shipped config, its upstream holding one server line (as shipped) per origin port.</summary>
    public static ShippedNginx Start(params int[] originPorts)
    {
        var directory = TempDirectory.Create("pp-nginx");
        var port = FreePort();
        var shipped = File.ReadAllText(Path.Combine(RepositoryRoot(), "deploy", "nginx", "publishingpoint.conf"));
        var originLine = shipped.Split('\n').Single(l => l.Contains("# ORIGIN", StringComparison.Ordinal));
        var origins = string.Join('\n', originPorts.Select(p => originLine.Replace("127.0.0.1:5000", $"127.0.0.1:{p}", StringComparison.Ordinal)));
        var site = shipped
            .Replace(originLine, origins, StringComparison.Ordinal)
            .Replace("/var/cache/nginx/publishingpoint", Path.Combine(directory, "cache"), StringComparison.Ordinal)
            .Replace("listen 8080;", $"listen 127.0.0.1:{port};", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(directory, "site.conf"), site);
        File.WriteAllText(Path.Combine(directory, "nginx.conf"), $$"""
            daemon off;
            user root;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log warn;
            events { worker_connections 256; }
            http {
                access_log off;
                client_body_temp_path {{directory}}/body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;
                include {{directory}}/site.conf;
            }
            """);
        var info = new ProcessStartInfo("/usr/sbin/nginx") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "-p", directory, "-c", Path.Combine(directory, "nginx.conf") })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Loopback, port);
                return new ShippedNginx(process, port);
            }
            catch (SocketException)
            {
                Assert.False(process.HasExited, $"nginx exited: {process.StandardError.ReadToEnd()}");
                Thread.Sleep(100);
            }
        }

        process.Kill(entireProcessTree: true);
        throw new TimeoutException("nginx did not start listening");
    }

    public void Stop()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PublishingPoint.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("repository root (PublishingPoint.sln) not found");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
