using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using PublishingPoint.Server.Hosting;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>Listening beyond loopback needs an ingest secret and an operator key, or a setting that says anonymous is wanted.</summary>
public sealed class ExposureTests
{
    // TEST-NET-1: not an address of this machine, so even a server that wrongly went ahead could not listen on it.
    private const string PublicUrl = "http://192.0.2.10:5000";

    [Fact]
    public async Task PublicAddressWithoutSecrets_ExitsNonZero_WithOneLineNamingEachSetting()
    {
        var (exit, output) = await RunServerAsync("--urls", PublicUrl);
        Assert.Equal(2, exit);
        var refusals = output.Split('\n').Where(l => l.Contains("Refusing to start", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, refusals.Length);
        Assert.Contains(refusals, l => l.Contains("PublishingPoint:IngestSecret", StringComparison.Ordinal) && l.Contains("AllowAnonymousIngest", StringComparison.Ordinal));
        Assert.Contains(refusals, l => l.Contains("PublishingPoint:AdminApiKey", StringComparison.Ordinal));
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PublicAddressWithIngestSecretOnly_RefusesForTheOperatorKey()
    {
        var (exit, output) = await RunServerAsync("--urls", PublicUrl, "--PublishingPoint:IngestSecret=a-long-ingest-secret");
        Assert.Equal(2, exit);
        var refusal = Assert.Single(output.Split('\n'), l => l.Contains("Refusing to start", StringComparison.Ordinal));
        Assert.Contains("PublishingPoint:AdminApiKey", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidSetting_ExitsNonZero_WithALineNamingIt()
    {
        var (exit, output) = await RunServerAsync("--urls", "http://127.0.0.1:0", "--PublishingPoint:DvrWindowSeconds=1");
        Assert.Equal(2, exit);
        Assert.Contains(output.Split('\n'), l => l.Contains("Refusing to start", StringComparison.Ordinal) && l.Contains("PublishingPoint:DvrWindowSeconds", StringComparison.Ordinal));
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://0.0.0.0:5000", null, null, 2)]
    [InlineData("http://+:80", null, null, 2)]
    [InlineData("http://[::]:80", null, null, 2)]
    [InlineData("http://origin.example.com:80", null, null, 2)]
    [InlineData("http://10.1.2.3:80", "a-long-ingest-secret", null, 1)]
    [InlineData("http://0.0.0.0:5000", "a-long-ingest-secret", "a-long-operator-key", 0)]
    [InlineData("http://0.0.0.0:5000", "secret", "a-long-operator-key", 1)] // too short to face the internet
    [InlineData("http://0.0.0.0:5000", "a-long-ingest-secret", "key", 1)]
    [InlineData("http://127.0.0.1:5000", "secret", "key", 0)] // on loopback, any
    [InlineData("http://127.0.0.1:5000", null, null, 0)]
    [InlineData("http://localhost:5000;http://[::1]:5001", null, null, 0)]
    [InlineData("http://unix:/run/pp.sock", null, null, 1)] // reached through a relay: ingest needs its secret
    [InlineData("http://unix:/run/pp.sock", "a-long-ingest-secret", null, 0)]
    [InlineData("http://unix:/run/pp.sock", "secret", null, 1)]
    [InlineData("http://unix:/run/pp.sock;http://0.0.0.0:80", "a-long-ingest-secret", null, 1)]
    [InlineData("http://unix:8080", null, null, 2)] // Kestrel: host "unix", port 8080, every interface
    [InlineData("http://UNIX:/run/pp.sock", null, null, 2)] // a socket only as "unix:/", in that case
    [InlineData("http://[::1]:5000", null, null, 0)]
    public void Refusals_DependOnWhereItListensAndWhatIsSet(string urls, string? secret, string? key, int expected)
    {
        var configuration = Configuration(("urls", urls), ("PublishingPoint:IngestSecret", secret), ("PublishingPoint:AdminApiKey", key));
        Assert.Equal(expected, ExposureCheck.Refusals(configuration).Count);
    }

    [Fact]
    public void ExplicitAnonymousSettings_AllowAPublicAddressWithoutSecrets()
    {
        var configuration = Configuration(("urls", "http://0.0.0.0:80"), (ExposureCheck.AllowAnonymousIngestKey, "true"), (ExposureCheck.AllowAnonymousOperatorKey, "true"));
        Assert.Empty(ExposureCheck.Refusals(configuration));
    }

    [Fact]
    public void HttpPortsAndKestrelEndpoints_CountAsPublic()
    {
        Assert.Equal(2, ExposureCheck.Refusals(Configuration(("http_ports", "8080"))).Count);
        Assert.Equal(2, ExposureCheck.Refusals(Configuration(("Kestrel:Endpoints:Web:Url", "http://0.0.0.0:80"))).Count);
        Assert.Empty(ExposureCheck.Refusals(Configuration()));
    }

    private static IConfiguration Configuration(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Where(v => v.Value is not null).Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static async Task<(int Exit, string Output)> RunServerAsync(params string[] settings)
    {
        var data = TempDirectory.Create("pp-exposure");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "PublishingPoint.Server.dll"));
        info.ArgumentList.Add($"--PublishingPoint:DataPath={data}");
        foreach (var setting in settings)
        {
            info.ArgumentList.Add(setting);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the server started instead of refusing: " + await stdout);
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
