using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace PublishingPoint.Benchmarks.Live;

/// <summary>CPU time (user + system) and resident set size of a process, read from /proc.</summary>
/// <param name="AnonBytes">RssAnon: the resident memory that is the process's own (heaps, buffers, JIT code, stacks), not the
/// pages of the binaries and libraries it maps, which VmRSS also counts and the kernel can drop and read again.</param>
internal readonly record struct ProcessSample(DateTime At, double CpuSeconds, long RssBytes, long AnonBytes);

/// <summary>
/// The server as a child process (<c>dotnet PublishingPoint.Server.dll</c>, copied next to this assembly by the
/// project reference), with its own data folder, so its CPU and memory are its own. Killed on dispose.
/// </summary>
internal sealed class LiveServer : IAsyncDisposable
{
    /// <summary>USER_HZ: the unit of utime and stime in /proc/{pid}/stat (100 on every Linux architecture .NET runs on).</summary>
    private const double ClockTicksPerSecond = 100;

    private readonly Process _process;
    private readonly string _dataPath;
    private readonly bool _ownsData;
    private readonly List<string> _output = [];

    private LiveServer(Process process, Uri baseUrl, string dataPath, bool ownsData)
    {
        _process = process;
        _dataPath = dataPath;
        _ownsData = ownsData;
        BaseUrl = baseUrl;
        Http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseUrl { get; }

    public HttpClient Http { get; }

    public int ProcessId => _process.Id;

    /// <summary>The server's data folder.</summary>
    public string DataPath => _dataPath;

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the server printed (warnings and errors).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output.TakeLast(40));
            }
        }
    }

    /// <summary>
    /// Starts the server on a free port with a fresh data folder (deleted on dispose), or on the given
    /// <paramref name="port"/> and <paramref name="dataPath"/> (kept: a restart test starts a second server on them);
    /// <paramref name="settings"/> are extra command-line settings, <paramref name="environment"/> extra environment
    /// variables (e.g. DOTNET_gcServer=0).
    /// </summary>
    public static async Task<LiveServer> StartAsync(IEnumerable<string> settings, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null, string? dataPath = null, int? port = null)
    {
        var ownsData = dataPath is null;
        dataPath ??= Path.Combine(Path.GetTempPath(), $"pp-live-data-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dataPath);
        port ??= FreePort();
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        // Every client of a benchmark (hundreds of encoders and viewers, thousands of held requests) is on 127.0.0.1: the
        // per-address connection limit, which only acts when a connection arrives, is off.
        foreach (var argument in (string[])[Path.Combine(AppContext.BaseDirectory, "PublishingPoint.Server.dll"), "--urls", $"http://127.0.0.1:{port}",
            $"--PublishingPoint:DataPath={dataPath}", "--Serilog:MinimumLevel:Default=Warning", "--PublishingPoint:MaxConnectionsPerAddress=0", .. settings])
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
        var server = new LiveServer(process, new Uri($"http://127.0.0.1:{port}/"), dataPath, ownsData);
        process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"the server exited with {process.ExitCode}:\n{server.Output}");
                }

                try
                {
                    using var ready = await server.Http.GetAsync(new Uri("health/ready", UriKind.Relative), cancellationToken);
                    if (ready.StatusCode == HttpStatusCode.OK)
                    {
                        return server;
                    }
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"the server was not ready in 30 s:\n{server.Output}");
                }

                await Task.Delay(100, cancellationToken);
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>POSTs a body chunked (no Content-Length), as a live encoder does.</summary>
    public Task PostChunkedAsync(string relativeUrl, byte[] body, CancellationToken cancellationToken) =>
        ChunkedPost.SendAsync(Http, relativeUrl, body, cancellationToken);

    /// <summary>CPU seconds so far and the current RSS of the server process.</summary>
    public ProcessSample Sample()
    {
        var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
        // Fields after the command name (which may hold spaces) start after the last ')': state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        long rss = 0;
        long anon = 0;
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kilobytes(line) * 1024;
            }
            else if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
            {
                anon = Kilobytes(line) * 1024;
            }
        }

        return new ProcessSample(DateTime.UtcNow, ticks / ClockTicksPerSecond, rss, anon);

        static long Kilobytes(string line) => long.Parse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>The sum of tracks[].bytesInMemory over every point, and how many tracks, from /api/points.</summary>
    public async Task<(long BytesInMemory, int Tracks, int Points)> FragmentBytesInMemoryAsync(CancellationToken cancellationToken)
    {
        await using var json = await Http.GetStreamAsync(new Uri("api/points", UriKind.Relative), cancellationToken);
        using var document = await JsonDocument.ParseAsync(json, cancellationToken: cancellationToken);
        long bytes = 0;
        var tracks = 0;
        var points = 0;
        foreach (var point in document.RootElement.EnumerateArray())
        {
            points++;
            foreach (var track in point.GetProperty("tracks").EnumerateArray())
            {
                tracks++;
                bytes += track.GetProperty("bytesInMemory").GetInt64();
            }
        }

        return (bytes, tracks, points);
    }

    /// <summary>kill -9: no shutdown, no flush, no finalisation.</summary>
    public void KillHard()
    {
        _process.Kill(); // SIGKILL on Unix
        _process.WaitForExit(5000);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(limit.Token);
        }

        _process.Dispose();
        if (!_ownsData)
        {
            return;
        }

        try
        {
            Directory.Delete(_dataPath, recursive: true);
        }
        catch (IOException)
        {
            // a file still being closed: the temp folder is cleaned up later
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
            if (_output.Count > 1000)
            {
                _output.RemoveRange(0, 500);
            }
        }
    }
}
