using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Admin;

/// <summary>The dashboard's files: public (even with an operator key), typed, no-cache, never framed by another page, and nothing outside the folder.</summary>
public sealed class DashboardFilesTests
{
    [Theory]
    [InlineData("dashboard", "text/html")]
    [InlineData("dashboard/dashboard.js", "text/javascript")]
    [InlineData("dashboard/dashboard.css", "text/css")]
    [InlineData("dashboard/lib/hls.min.js", "text/javascript")]
    public async Task Files_ArePublic_Typed_AndNoCache(string path, string type)
    {
        using var server = new InProcessServer("PublishingPoint:AdminApiKey=files-key");
        using var response = await server.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoCache, $"Cache-Control: {response.Headers.CacheControl}");
        Assert.NotNull(response.Headers.ETag);
        Assert.True(response.Content.Headers.ContentLength > 0);
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("frame-ancestors 'none'", Assert.Single(response.Headers.GetValues("Content-Security-Policy")));

        using var head = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);

        using var api = await server.Http.GetAsync("api/points");
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
    }

    [Fact]
    public async Task TrailingSlash_Redirects_AndOtherFiles_AreNotFound()
    {
        using var server = new InProcessServer();
        var noRedirect = server.Http;
        using var slash = await noRedirect.GetAsync("dashboard/");
        Assert.Equal(HttpStatusCode.Redirect, slash.StatusCode);
        Assert.Equal("/dashboard", slash.Headers.Location?.OriginalString);

        foreach (var path in new[] { "dashboard/nothing.js", "dashboard/package.json", "dashboard/%2e%2e/appsettings.json", "dashboard/..%2fappsettings.json", "dashboard/lib" })
        {
            using var response = await noRedirect.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{path}: {(int)response.StatusCode}");
        }
    }
}
