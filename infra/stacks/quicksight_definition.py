"""QuickSight dashboard definitions (visuals, calculated fields, filters, layout) from one board of the spec.

Kept apart from analytics_stack.py (data source, datasets, permissions) because it is pure
translation: spec dict in, `CfnDashboard.DashboardVersionDefinitionProperty` out.
"""

from __future__ import annotations

import re

from aws_cdk import aws_quicksight as qs

AGGREGATIONS = {"SUM": "SUM", "AVG": "AVERAGE", "MIN": "MIN", "MAX": "MAX", "COUNT": "COUNT"}


class DefinitionError(ValueError):
    """A visual cannot be expressed in QuickSight (e.g. a range filter on a text column)."""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", str(text).lower()).strip("-")


class DefinitionBuilder:
    """Turns one dashboard of the spec into a QuickSight DashboardVersionDefinition."""

    def __init__(self, board: dict, datasets: dict[str, qs.CfnDataSet], column_types: dict[str, dict[str, str]]):
        self.board = board
        self.datasets = datasets
        self.types = column_types
        self.sheet_id = slug(board["id"])
        self.calculated: list[qs.CfnDashboard.CalculatedFieldProperty] = []
        self.filter_groups: list[qs.CfnDashboard.FilterGroupProperty] = []

    def build(self) -> qs.CfnDashboard.DashboardVersionDefinitionProperty:
        visuals = [self._visual(v) for v in self.board["visuals"]]
        used = sorted({v["dataset"] for v in self.board["visuals"]})
        elements = [qs.CfnDashboard.GridLayoutElementProperty(
            element_id=slug(v["id"]), element_type="VISUAL",
            column_span=12 if v["kind"] == "kpi" else 18, row_span=5 if v["kind"] == "kpi" else 10)
            for v in self.board["visuals"]]
        return qs.CfnDashboard.DashboardVersionDefinitionProperty(
            data_set_identifier_declarations=[qs.CfnDashboard.DataSetIdentifierDeclarationProperty(
                identifier=ds, data_set_arn=self.datasets[ds].attr_arn) for ds in used],
            calculated_fields=self.calculated or None,
            filter_groups=self.filter_groups or None,
            sheets=[qs.CfnDashboard.SheetDefinitionProperty(
                sheet_id=self.sheet_id, name=self.board["title"], title=self.board["title"],
                description=self.board.get("description") or None, visuals=visuals,
                layouts=[qs.CfnDashboard.LayoutProperty(configuration=qs.CfnDashboard.LayoutConfigurationProperty(
                    grid_layout=qs.CfnDashboard.GridLayoutConfigurationProperty(elements=elements)))])],
        )

    # -- fields --------------------------------------------------------------------------------
    def _column(self, ds: str, column: str) -> qs.CfnDashboard.ColumnIdentifierProperty:
        return qs.CfnDashboard.ColumnIdentifierProperty(data_set_identifier=ds, column_name=column)

    def _dimension(self, v: dict, column: str, role: str) -> qs.CfnDashboard.DimensionFieldProperty:
        field_id = f"{slug(v['id'])}-{role}-{slug(column)}"
        col, kind = self._column(v["dataset"], column), self.types[v["dataset"]][column]
        if kind == "DATETIME":
            return qs.CfnDashboard.DimensionFieldProperty(date_dimension_field=qs.CfnDashboard.DateDimensionFieldProperty(
                field_id=field_id, column=col, date_granularity="DAY"))
        if kind in ("INTEGER", "DECIMAL"):
            return qs.CfnDashboard.DimensionFieldProperty(
                numerical_dimension_field=qs.CfnDashboard.NumericalDimensionFieldProperty(field_id=field_id, column=col))
        return qs.CfnDashboard.DimensionFieldProperty(
            categorical_dimension_field=qs.CfnDashboard.CategoricalDimensionFieldProperty(field_id=field_id, column=col))

    def _measures(self, v: dict) -> list[qs.CfnDashboard.MeasureFieldProperty]:
        fields = []
        for index, m in enumerate(v.get("measures") or ()):
            field_id = f"{slug(v['id'])}-m{index}"
            if "numerator" in m:  # a Ratio: sum(num) / sum(den) as a calculated field, never averaged
                name = f"{slug(v['id'])}-ratio-{index}"
                self.calculated.append(qs.CfnDashboard.CalculatedFieldProperty(
                    data_set_identifier=v["dataset"], name=name,
                    expression=f"sum({{{m['numerator']}}}) / sum({{{m['denominator']}}})"))
                fields.append(qs.CfnDashboard.MeasureFieldProperty(
                    numerical_measure_field=qs.CfnDashboard.NumericalMeasureFieldProperty(
                        field_id=field_id, column=self._column(v["dataset"], name))))
            else:
                fields.append(qs.CfnDashboard.MeasureFieldProperty(
                    numerical_measure_field=qs.CfnDashboard.NumericalMeasureFieldProperty(
                        field_id=field_id, column=self._column(v["dataset"], m["column"]),
                        aggregation_function=qs.CfnDashboard.NumericalAggregationFunctionProperty(
                            simple_numerical_aggregation=AGGREGATIONS[m["aggregation"]]))))
        return fields

    def _category_sort(self, v: dict) -> list[qs.CfnDashboard.FieldSortOptionsProperty] | None:
        sort_by = v.get("sort_by")
        if not sort_by:
            return None
        if sort_by == v.get("category"):
            return [qs.CfnDashboard.FieldSortOptionsProperty(field_sort=qs.CfnDashboard.FieldSortProperty(
                field_id=f"{slug(v['id'])}-category-{slug(sort_by)}", direction="ASC"))]
        numeric = self.types[v["dataset"]][sort_by] in ("INTEGER", "DECIMAL")
        aggregation = (qs.CfnDashboard.AggregationFunctionProperty(
            numerical_aggregation_function=qs.CfnDashboard.NumericalAggregationFunctionProperty(
                simple_numerical_aggregation="MIN")) if numeric
            else qs.CfnDashboard.AggregationFunctionProperty(categorical_aggregation_function="COUNT"))
        return [qs.CfnDashboard.FieldSortOptionsProperty(column_sort=qs.CfnDashboard.ColumnSortProperty(
            sort_by=self._column(v["dataset"], sort_by), direction="ASC", aggregation_function=aggregation))]

    # -- filters -------------------------------------------------------------------------------
    def _filters(self, v: dict) -> None:
        for index, f in enumerate(v.get("filters") or ()):
            filter_id = f"{slug(v['id'])}-f{index}"
            column = self._column(v["dataset"], f["column"])
            kind, op, value = self.types[v["dataset"]][f["column"]], f["operator"], f["value"]
            if kind in ("INTEGER", "DECIMAL"):
                if op in ("=", "!="):
                    flt = qs.CfnDashboard.FilterProperty(numeric_equality_filter=qs.CfnDashboard.NumericEqualityFilterProperty(
                        filter_id=filter_id, column=column, match_operator="EQUALS" if op == "=" else "DOES_NOT_EQUAL",
                        null_option="NON_NULLS_ONLY", value=float(value)))
                else:
                    bound = qs.CfnDashboard.NumericRangeFilterValueProperty(static_value=float(value))
                    flt = qs.CfnDashboard.FilterProperty(numeric_range_filter=qs.CfnDashboard.NumericRangeFilterProperty(
                        filter_id=filter_id, column=column, null_option="NON_NULLS_ONLY",
                        range_maximum=bound if op == "<=" else None, include_maximum=True if op == "<=" else None,
                        range_minimum=bound if op == ">=" else None, include_minimum=True if op == ">=" else None))
            else:
                if op not in ("=", "!="):
                    raise DefinitionError(f"{v['id']}: operator {op} needs a numeric column, {f['column']} is {kind}")
                text = str(value).lower() if isinstance(value, bool) else str(value)
                flt = qs.CfnDashboard.FilterProperty(category_filter=qs.CfnDashboard.CategoryFilterProperty(
                    filter_id=filter_id, column=column,
                    configuration=qs.CfnDashboard.CategoryFilterConfigurationProperty(
                        filter_list_configuration=qs.CfnDashboard.FilterListConfigurationProperty(
                            match_operator="CONTAINS" if op == "=" else "DOES_NOT_CONTAIN",
                            category_values=[text]))))
            self.filter_groups.append(qs.CfnDashboard.FilterGroupProperty(
                filter_group_id=filter_id, cross_dataset="SINGLE_DATASET", status="ENABLED", filters=[flt],
                scope_configuration=qs.CfnDashboard.FilterScopeConfigurationProperty(
                    selected_sheets=qs.CfnDashboard.SelectedSheetsFilterScopeConfigurationProperty(
                        sheet_visual_scoping_configurations=[qs.CfnDashboard.SheetVisualScopingConfigurationProperty(
                            sheet_id=self.sheet_id, scope="SELECTED_VISUALS", visual_ids=[slug(v["id"])])]))))

    # -- visuals -------------------------------------------------------------------------------
    def _visual(self, v: dict) -> qs.CfnDashboard.VisualProperty:
        self._filters(v)
        visual_id = slug(v["id"])
        title = qs.CfnDashboard.VisualTitleLabelOptionsProperty(
            visibility="VISIBLE", format_text=qs.CfnDashboard.ShortFormatTextProperty(plain_text=v["title"]))
        subtitle = (qs.CfnDashboard.VisualSubtitleLabelOptionsProperty(
            visibility="VISIBLE", format_text=qs.CfnDashboard.LongFormatTextProperty(plain_text=v["description"]))
            if v.get("description") else None)
        measures = self._measures(v)
        category = [self._dimension(v, v["category"], "category")] if v.get("category") else []
        colors = [self._dimension(v, v["color"], "color")] if v.get("color") else []
        if v["kind"] == "kpi":
            return qs.CfnDashboard.VisualProperty(kpi_visual=qs.CfnDashboard.KPIVisualProperty(
                visual_id=visual_id, title=title, subtitle=subtitle,
                chart_configuration=qs.CfnDashboard.KPIConfigurationProperty(
                    field_wells=qs.CfnDashboard.KPIFieldWellsProperty(values=measures))))
        if v["kind"] == "line":
            return qs.CfnDashboard.VisualProperty(line_chart_visual=qs.CfnDashboard.LineChartVisualProperty(
                visual_id=visual_id, title=title, subtitle=subtitle,
                chart_configuration=qs.CfnDashboard.LineChartConfigurationProperty(
                    field_wells=qs.CfnDashboard.LineChartFieldWellsProperty(
                        line_chart_aggregated_field_wells=qs.CfnDashboard.LineChartAggregatedFieldWellsProperty(
                            category=category, colors=colors or None, values=measures)),
                    sort_configuration=qs.CfnDashboard.LineChartSortConfigurationProperty(
                        category_sort=self._category_sort(v)) if v.get("sort_by") else None)))
        if v["kind"] == "bar":
            return qs.CfnDashboard.VisualProperty(bar_chart_visual=qs.CfnDashboard.BarChartVisualProperty(
                visual_id=visual_id, title=title, subtitle=subtitle,
                chart_configuration=qs.CfnDashboard.BarChartConfigurationProperty(
                    orientation="HORIZONTAL" if v.get("horizontal") else "VERTICAL",
                    field_wells=qs.CfnDashboard.BarChartFieldWellsProperty(
                        bar_chart_aggregated_field_wells=qs.CfnDashboard.BarChartAggregatedFieldWellsProperty(
                            category=category, colors=colors or None, values=measures)),
                    sort_configuration=qs.CfnDashboard.BarChartSortConfigurationProperty(
                        category_sort=self._category_sort(v)) if v.get("sort_by") else None)))
        # table: the listed columns, unaggregated, sorted and paginated to top_n rows
        values = [qs.CfnDashboard.UnaggregatedFieldProperty(
            field_id=f"{visual_id}-col-{slug(c)}", column=self._column(v["dataset"], c)) for c in v["columns"]]
        sort = None
        if v.get("sort_by") or v.get("top_n"):
            sort = qs.CfnDashboard.TableSortConfigurationProperty(
                row_sort=[qs.CfnDashboard.FieldSortOptionsProperty(field_sort=qs.CfnDashboard.FieldSortProperty(
                    field_id=f"{visual_id}-col-{slug(v['sort_by'])}", direction="ASC"))] if v.get("sort_by") else None,
                pagination_configuration=qs.CfnDashboard.PaginationConfigurationProperty(
                    page_size=int(v["top_n"]), page_number=1) if v.get("top_n") else None)
        return qs.CfnDashboard.VisualProperty(table_visual=qs.CfnDashboard.TableVisualProperty(
            visual_id=visual_id, title=title, subtitle=subtitle,
            chart_configuration=qs.CfnDashboard.TableConfigurationProperty(
                field_wells=qs.CfnDashboard.TableFieldWellsProperty(
                    table_unaggregated_field_wells=qs.CfnDashboard.TableUnaggregatedFieldWellsProperty(values=values)),
                sort_configuration=sort)))
